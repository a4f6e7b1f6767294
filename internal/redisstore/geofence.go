package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/geofence"
)

// Geofence keys, per tenant (all with the tenant's hash tag):
//
//	gt:{T}:fences           HASH  fence id -> Feature JSON (geofence.Encode)
//	gt:{T}:fences:ids       ZSET  fence ids, score 0, for paging in id order
//	gt:{T}:fences:ver       STRING the fence version, bumped by every change
//	gt:{T}:fences:changes   ZSET  fence id -> version of its last change (deleted ones too)
//	gt:{T}:gfstate:<device> HASH  detection state of one device: _v version, _t last ts (unix ns),
//	                              _p last position "lon,lat", f:<fence> "since ns,dwelled,leaving"
//	gt:{T}:eventlog         STREAM the tenant's event log (eventlog.go)

func (k tenantKeys) fences() []string {
	return []string{k.base + "fences", k.base + "fences:ids", k.base + "fences:ver", k.base + "fences:changes"}
}
func (k tenantKeys) geoState(device string) string { return k.base + "gfstate:" + device }

var (
	//go:embed fences_put.lua
	fencesPutLua string
	//go:embed fences_delete.lua
	fencesDeleteLua string
	//go:embed fences_changes.lua
	fencesChangesLua string
	//go:embed geostate_commit.lua
	geoStateCommitLua string

	fencesPutScript     = redis.NewScript(fencesPutLua)
	fencesDeleteScript  = redis.NewScript(fencesDeleteLua)
	fencesChangesScript = redis.NewScript(fencesChangesLua)
	geoStateCommit      = redis.NewScript(geoStateCommitLua)
)

// PutFences implements geofence.Store.
func (s *Store) PutFences(ctx context.Context, tenant string, fences []geofence.Stored, quota int) error {
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	args := make([]any, 0, 2+2*len(fences))
	args = append(args, quota, len(fences))
	for _, f := range fences {
		args = append(args, f.ID, f.Feature)
	}
	err = fencesPutScript.Run(ctx, s.client, k.fences(), args...).Err()
	if err != nil && strings.HasPrefix(err.Error(), "QUOTA ") {
		var have, add int
		fmt.Sscanf(err.Error(), "QUOTA %d %d", &have, &add)
		return fmt.Errorf("%w: the tenant has %d fences, %d more would pass the quota of %d", geofence.ErrQuota, have, add, quota)
	}
	if err != nil {
		return fmt.Errorf("put fences: %w", err)
	}
	return nil
}

// GetFence implements geofence.Store.
func (s *Store) GetFence(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, false, err
	}
	b, err := s.client.HGet(ctx, k.fences()[0], id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get fence: %w", err)
	}
	return b, true, nil
}

// ListFences implements geofence.Store.
func (s *Store) ListFences(ctx context.Context, tenant, cursor string, limit int) ([][]byte, string, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, "", err
	}
	keys := k.fences()
	min := "-"
	if cursor != "" {
		min = "(" + cursor
	}
	ids, err := s.client.ZRangeByLex(ctx, keys[1], &redis.ZRangeBy{Min: min, Max: "+", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list fences: %w", err)
	}
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	if len(ids) == 0 {
		return [][]byte{}, "", nil
	}
	vals, err := s.client.HMGet(ctx, keys[0], ids...).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list fences: %w", err)
	}
	out := make([][]byte, 0, len(vals))
	for _, v := range vals {
		if str, ok := v.(string); ok { // nil: deleted between the two reads
			out = append(out, []byte(str))
		}
	}
	return out, next, nil
}

// DeleteFence implements geofence.Store.
func (s *Store) DeleteFence(ctx context.Context, tenant, id string) (bool, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return false, err
	}
	n, err := fencesDeleteScript.Run(ctx, s.client, k.fences(), id).Int()
	if err != nil {
		return false, fmt.Errorf("delete fence: %w", err)
	}
	return n == 1, nil
}

// FenceVersion implements geofence.FenceSource.
func (s *Store) FenceVersion(ctx context.Context, tenant string) (int64, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return 0, err
	}
	v, err := s.client.Get(ctx, k.fences()[2]).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("fence version: %w", err)
	}
	return v, nil
}

// FenceChanges implements geofence.FenceSource. From version 0 it scans the
// whole hash in batches (a version read first: a change during the scan has
// a later version, so the next poll applies it again).
func (s *Store) FenceChanges(ctx context.Context, tenant string, since int64) ([]geofence.Stored, int64, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, 0, err
	}
	keys := k.fences()
	if since > 0 {
		vals, err := fencesChangesScript.Run(ctx, s.client, keys, since).Slice()
		if err != nil {
			return nil, 0, fmt.Errorf("fence changes: %w", err)
		}
		v, _ := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
		out := make([]geofence.Stored, 0, (len(vals)-1)/2)
		for i := 1; i+1 < len(vals); i += 2 {
			id, _ := vals[i].(string)
			st := geofence.Stored{ID: id}
			if f, ok := vals[i+1].(string); ok {
				st.Feature = []byte(f)
			}
			out = append(out, st)
		}
		return out, v, nil
	}
	v, err := s.FenceVersion(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	var out []geofence.Stored
	var cursor uint64
	for {
		kv, next, err := s.client.HScan(ctx, keys[0], cursor, "", 2000).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("load fences: %w", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, geofence.Stored{ID: kv[i], Feature: []byte(kv[i+1])})
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	return out, v, nil
}

// GeofenceStates is the detection state store (geofence.StateStore) on
// the hot store's Redis. With Outbox set, events are also queued in the
// tenant's event outbox (EventOutboxKey, drained by the event relay), in the
// same script as the state write, within the store's EventOutboxMaxLen.
type GeofenceStates struct {
	Store     *Store
	Retention time.Duration // state TTL and event log retention (default: the store's history retention)
	Outbox    bool
	Now       func() time.Time
}

// UpdateDeviceStates implements geofence.StateStore with optimistic
// concurrency, every device of the call in one pipeline per step: read the
// states and their versions, evaluate, and commit each with a script that
// writes only if the device's version did not move (those that moved are
// read and evaluated again).
func (g *GeofenceStates) UpdateDeviceStates(ctx context.Context, tenant string, devices []string,
	eval func(device string, st *geofence.DeviceState) (bool, []geofence.Event, error)) error {
	k, err := g.Store.keys(tenant)
	if err != nil {
		return err
	}
	logKey := k.base + "eventlog"
	outboxKey, capacity := EventOutboxKey(g.Store.opts.KeyPrefix, tenant), int64(0)
	if g.Outbox {
		capacity = g.Store.opts.EventOutboxMaxLen
	}
	retention := g.Retention
	if retention <= 0 {
		retention = g.Store.opts.HistoryRetention
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	minID := strconv.FormatInt(now().Add(-retention).UnixMilli(), 10)
	client := g.Store.client
	pending := devices
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 20 {
			return fmt.Errorf("commit geofence state of %q: too many concurrent updates", pending[0])
		}
		reads := make([]*redis.MapStringStringCmd, len(pending))
		if _, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, d := range pending {
				reads[i] = pipe.HGetAll(ctx, k.geoState(d))
			}
			return nil
		}); err != nil {
			return fmt.Errorf("read geofence state: %w", err)
		}
		type commit struct {
			device string
			keys   []string
			args   []any
		}
		var commits []commit
		registered := false
		for i, d := range pending {
			st, version := decodeGeoState(reads[i].Val())
			changed, evs, err := eval(d, &st)
			if err != nil {
				return err
			}
			if !changed {
				continue
			}
			if g.Outbox && len(evs) > 0 && !registered {
				if err := g.Store.registerEmitter(ctx, tenant); err != nil {
					return err
				}
				registered = true
			}
			args := []any{version, retention.Milliseconds(), minID, capacity}
			fields := encodeGeoState(st, version)
			args = append(args, len(fields)/2)
			args = append(args, fields...)
			args = append(args, len(evs))
			for _, e := range evs {
				args = append(args, []byte(e.Structured), e.Type, e.ID, e.Source, e.Subject,
					strconv.FormatInt(e.Time.UnixMilli(), 10), e.TraceParent, []byte(e.Data))
			}
			commits = append(commits, commit{d, []string{k.geoState(d), logKey, outboxKey}, args})
		}
		if len(commits) == 0 {
			return nil
		}
		results := make([]*redis.Cmd, len(commits))
		run := func() error {
			_, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				for i, c := range commits {
					results[i] = geoStateCommit.EvalSha(ctx, pipe, c.keys, c.args...)
				}
				return nil
			})
			return err
		}
		err := run()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if lerr := geoStateCommit.Load(ctx, client).Err(); lerr != nil {
				return fmt.Errorf("load geofence state script: %w", lerr)
			}
			err = run()
		}
		pending = pending[:0:0]
		for i, r := range results {
			ok, rerr := r.Int()
			if rerr != nil {
				return fmt.Errorf("commit geofence state: %w", outboxFull(rerr))
			}
			if ok != 1 {
				pending = append(pending, commits[i].device)
			}
		}
		if err != nil && len(pending) == 0 {
			return fmt.Errorf("commit geofence state: %w", err)
		}
	}
	return nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func decodeGeoState(m map[string]string) (geofence.DeviceState, string) {
	st := geofence.DeviceState{Inside: map[string]geofence.Presence{}}
	version := m["_v"]
	if ns, err := strconv.ParseInt(m["_t"], 10, 64); err == nil {
		st.LastTS = time.Unix(0, ns).UTC()
	}
	if lon, lat, ok := strings.Cut(m["_p"], ","); ok {
		st.Last[0], _ = strconv.ParseFloat(lon, 64)
		st.Last[1], _ = strconv.ParseFloat(lat, 64)
	}
	for f, v := range m {
		id, ok := strings.CutPrefix(f, "f:")
		if !ok {
			continue
		}
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			continue
		}
		ns, _ := strconv.ParseInt(parts[0], 10, 64)
		st.Inside[id] = geofence.Presence{Since: time.Unix(0, ns).UTC(), Dwelled: parts[1] == "1", Leaving: parts[2] == "1"}
	}
	return st, version
}

func encodeGeoState(st geofence.DeviceState, version string) []any {
	n, _ := strconv.ParseInt(version, 10, 64)
	out := []any{"_v", strconv.FormatInt(n+1, 10), "_t", strconv.FormatInt(st.LastTS.UnixNano(), 10),
		"_p", strconv.FormatFloat(st.Last[0], 'g', -1, 64) + "," + strconv.FormatFloat(st.Last[1], 'g', -1, 64)}
	for id, p := range st.Inside {
		out = append(out, "f:"+id, strconv.FormatInt(p.Since.UnixNano(), 10)+","+boolArg(p.Dwelled)+","+boolArg(p.Leaving))
	}
	return out
}
