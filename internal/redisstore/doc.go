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
//	gt:{T}:h:<device>       ZSET history index: score a bucket's start (unix ms), member its number
//	gt:{T}:hb:<n>:<device>  STRING history bucket n (10 minutes from n×10 min): binary records
//	gt:{T}:sm:<n>           HASH c, s: CloudEvent dedup bucket n (DedupTTL wide): marks, shards
//	gt:{T}:sd:<n>:<g>:<i>   HASH (listpack) 6-byte fingerprint of source+id -> time slot, digest
//	gt:{T}:devices          SET of device ids (at most Options.DeviceQuota, or the override)
//	gt:{T}:limits           HASH the operator's overrides: rates (tokens.go) and quotas devices, fences, rules (quotas.go)
//	gt:{T}:events           STREAM, the tenant's event outbox (see Announce)
//	gt:events:tenants       SET of tenants with an event outbox (no hash tag)
//
// History is bucketed: per device and 10-minute bucket one STRING of
// binary records (histcodec.go: 3-byte ms offset, flags, position as int32
// degrees × 1e7, the optional fields as scaled integers of 2-3 bytes, raw
// float64 wherever scaling would not give back the exact value, attrs as
// JSON in the record): 23 bytes for a typical GPS fix with all optional
// fields, 12 for a position alone. A bucket is appended to with APPEND,
// whose strings grow greedily (up to twice their length), so the bucket a
// device leaves is rewritten at its exact size ("sealed"). The index lists
// a device's buckets; members starting with '{' are points stored as JSON
// by the layout before buckets, still read and trimmed (but not looked at
// by the device+ts dedup: a fix resent without an event id after the
// upgrade that repeats such a point is stored again; event ids still
// catch redeliveries). Readers sort: a
// bucket keeps arrival order. A bucket's records are only read whole (GET,
// MGET): Redis Cluster is fine with that, all keys share the tag.
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
// duplicate even without an event id. Only a late fix (not newer than the
// device's latest) can repeat a stored one: the script then reads the
// fix's bucket, once per call and bucket, to look for its ts. Late fixes go into history in time
// order but never move the latest position backwards. Redis does not roll a
// script back on error, but the only realistic mid-script failure, OOM, is
// raised by Redis on the script's first write, before anything is changed,
// and all arguments are validated in Go before the script runs.
//
// A fix older than now-HistoryRetention is not stored at all (SaveResult
// counts it as TooOld): retention would delete it at once. With
// Options.KeepOld (an archive tier exists) it is stored, and nothing is
// trimmed or expires on write: the archiver moves points out and removes
// them with TrimArchived, which removes exactly the points before a bound
// only if they are as many as were archived (else ErrHistoryChanged). An event id seen
// again is a duplicate; its seen mark keeps a digest of the first data, so a
// duplicate carrying other data is flagged as a Conflict (a producer reusing
// ids), still not stored.
//
// Retention is enforced on write: buckets whose every point is older than
// now-HistoryRetention are deleted with their index entries, the index is
// set to expire HistoryRetention after the device's newest point (rounded
// up to the minute) and each bucket HistoryRetention after its end, so idle
// devices' history disappears on its own. To keep the per-fix cost low,
// the trim happens when a device is new, when its latest position enters a
// new minute, or when a point older than the cutoff is written: a point may
// outlive retention by up to a bucket (10 minutes) and a minute.
// TrimHistory (a device's shorter retention preference) is exact.
//
// CloudEvent dedup: a source+id is remembered for DedupTTL (and at most
// DedupTTL/2048 longer) as a 10-byte hash (4 bytes pick a shard, 6 are the
// field) with its time slot and a 12-bit digest of the data (a conflict
// goes unflagged with probability 1/4096; the duplicate is dropped either
// way). Marks sit in per-tenant buckets of DedupTTL width, each sharded into
// HASHes that stay listpacks (generations of shard counts growing
// fourfold, the first sized from the previous bucket; see save.lua); a
// lookup reads every generation of the current and the previous bucket,
// and whole buckets expire. Marks written by releases
// before this layout (one key per event) are not read: after an upgrade, a
// redelivery of an event seen before it is caught by the device+ts dedup
// instead (its fixes count as duplicates, the group is not flagged as a
// duplicate event).
//
// Memory: about 25-30 bytes of used_memory per stored fix at 1 Hz
// (geotrack bench memory), plus ~15 bytes per CloudEvent id within
// DedupTTL.
package redisstore
