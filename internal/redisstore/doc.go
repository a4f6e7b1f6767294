// Package redisstore is geotrack's hot store: the latest position of every
// device (for "where is X" and "who is near Y") and a bounded history per
// device, in Redis or Redis Cluster, through go-redis' UniversalClient.
//
// # Key layout
//
// Every key of a tenant T carries the hash tag {T} (default prefix "gt"):
//
//	gt:{T}:geo              GEO set: device -> latest position
//	gt:{T}:last             HASH device -> JSON of the latest fix
//	gt:{T}:lastts           HASH device -> ts of the latest fix, unix ms
//	gt:{T}:h:<device>       ZSET history: score ts unix ms, member fix JSON
//	gt:{T}:seen:<src>\x1f<id>  STRING, SET NX PX DedupTTL: CloudEvent dedup
//	gt:{T}:devices          SET of device ids
//	gt:{T}:events           STREAM, the tenant's event outbox (see Announce)
//	gt:events:tenants       SET of tenants with an event outbox (no hash tag)
//
// The hash tag puts all of a tenant's keys in one cluster slot, so a single
// Lua script can update them atomically in one round trip. The trade-off: one
// tenant lives on one shard, so a single huge tenant cannot be spread across
// the cluster; scale-out is across tenants.
//
// # Write semantics
//
// Save runs one script per request (chunked at CloudEvent boundaries only for
// very large requests) that, per CloudEvent group, marks the event seen and
// stores its fixes together, so an event can never be marked seen without
// being stored. (device, ts in ms) is unique: a resent fix is counted as a
// duplicate even without an event id. Late fixes go into history in time
// order but never move the latest position backwards. Redis does not roll a
// script back on error, but the only realistic mid-script failure, OOM, is
// raised by Redis on the script's first write, before anything is changed,
// and all arguments are validated in Go before the script runs.
//
// A fix older than now-HistoryRetention is not stored at all (SaveResult
// counts it as TooOld): retention would delete it at once. An event id seen
// again is a duplicate; its seen mark keeps a digest of the first data, so a
// duplicate carrying other data is flagged as a Conflict (a producer reusing
// ids), still not stored.
//
// Retention is enforced on write: a history key is trimmed to points newer
// than now-HistoryRetention and set to expire HistoryRetention after its
// newest point (rounded up to the minute), so idle devices' history
// disappears on its own. To keep the per-fix cost at two Redis calls, this
// happens when a device is new, when its latest position enters a new
// minute, or when a point older than the cutoff is written: a point may
// outlive retention by up to a minute.
package redisstore
