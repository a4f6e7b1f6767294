package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
//	gt:{T}:gfstate:<device> STRING detection state of one device (encodeGeoState)
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
// tenant's outbox of derived events (DerivedOutboxKey, drained by the event
// relay apart from the location events), in the same script as the state
// write, within the store's EventOutboxMaxLen.
type GeofenceStates struct {
	Store     *Store
	Retention time.Duration // state TTL and event log retention (default: the store's history retention)
	Outbox    bool
	Now       func() time.Time
}

// A call's devices go in pieces of pipelineDevices (which also bounds the
// devices of one commit script, so one call does not block Redis for long), up to pipelineDepth of
// them at once: while Redis reads or commits one piece, the CPUs evaluate
// another (one piece of a thousand devices left them idle during both
// round trips). Devices are independent, so pieces commit in any order;
// each device's fixes stay in one piece, in order.
const (
	pipelineDevices = 250
	pipelineDepth   = 3
)

// UpdateDeviceStates implements geofence.StateStore with optimistic
// concurrency and two round trips per piece of devices: one MGET of their
// states (each carries a version), evaluation, and one script that writes
// each device whose version did not move, with its events; the devices that
// moved are read and evaluated again.
func (g *GeofenceStates) UpdateDeviceStates(ctx context.Context, tenant string, devices []string,
	eval func(device string, st *geofence.DeviceState) (bool, []geofence.Event, error)) error {
	if len(devices) <= pipelineDevices {
		return g.updateChunk(ctx, tenant, devices, eval)
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, pipelineDepth)
	var errs []error
	var mu sync.Mutex
	for i := 0; i < len(devices); i += pipelineDevices {
		piece := devices[i:min(i+pipelineDevices, len(devices))]
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := g.updateChunk(ctx, tenant, piece, eval); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (g *GeofenceStates) updateChunk(ctx context.Context, tenant string, devices []string,
	eval func(device string, st *geofence.DeviceState) (bool, []geofence.Event, error)) error {
	k, err := g.Store.keys(tenant)
	if err != nil {
		return err
	}
	capacity := int64(0)
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
		keys := make([]string, len(pending))
		for i, d := range pending {
			keys[i] = k.geoState(d)
		}
		vals, err := client.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("read geofence state: %w", err)
		}
		scriptKeys := []string{k.base + "eventlog", DerivedOutboxKey(g.Store.opts.KeyPrefix, tenant)}
		header := []any{retention.Milliseconds(), minID, capacity, 0, 0}
		var perDevice, events []any
		var committing []string
		total := 0
		evaluated, err := evaluateDevices(pending, vals, eval)
		if err != nil {
			return err
		}
		for i, d := range pending {
			ev := evaluated[i]
			if !ev.changed {
				continue
			}
			evs := ev.events
			committing = append(committing, d)
			scriptKeys = append(scriptKeys, keys[i])
			perDevice = append(perDevice, ev.version, ev.state, len(evs))
			for _, e := range evs {
				events = append(events, []byte(e.Structured), e.Type, e.ID, e.Source, e.Subject,
					strconv.FormatInt(e.Time.UnixMilli(), 10), e.TraceParent, []byte(e.Data))
			}
			total += len(evs)
		}
		if len(committing) == 0 {
			return nil
		}
		if g.Outbox && total > 0 {
			if err := g.Store.registerEmitter(ctx, tenant); err != nil {
				return err
			}
		}
		header[3], header[4] = len(committing), total
		args := append(append(header, perDevice...), events...)
		conflicts, err := geoStateCommit.Run(ctx, client, scriptKeys, args...).Int64Slice()
		if err != nil {
			return fmt.Errorf("commit geofence state: %w", outboxFull(err))
		}
		pending = pending[:0:0]
		for _, c := range conflicts {
			pending = append(pending, committing[c-1])
		}
	}
	return nil
}

// deviceEvaluation is one device's outcome of eval: its state to write
// (encoded, with the version it was read at) and its events.
type deviceEvaluation struct {
	changed        bool
	version, state string
	events         []geofence.Event
}

// evaluateDevices decodes each device's state and calls eval for the
// devices at once on every CPU (devices are independent; a location event
// carries up to a thousand of them and evaluation is CPU-bound), keeping the
// results in the order of devices.
func evaluateDevices(devices []string, vals []any,
	eval func(device string, st *geofence.DeviceState) (bool, []geofence.Event, error)) ([]deviceEvaluation, error) {
	out := make([]deviceEvaluation, len(devices))
	errs := make([]error, len(devices))
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(devices))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(devices); i = int(next.Add(1)) - 1 {
				raw, _ := vals[i].(string)
				st, version := decodeGeoState(raw)
				changed, evs, err := eval(devices[i], &st)
				if err != nil {
					errs[i] = err
					continue
				}
				out[i] = deviceEvaluation{changed: changed, events: evs, version: version}
				if changed {
					out[i].state = encodeGeoState(st, version)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// The state of one device is one string:
// "<version>|<last ts unix ns>|<lon>,<lat>|<fence>,<since ns>,<dwelled 0/1>,<leaving 0/1>;..."
// (fence ids have no '|', ',' or ';').
func decodeGeoState(raw string) (geofence.DeviceState, string) {
	version, rest, ok1 := strings.Cut(raw, "|")
	ts, rest, ok2 := strings.Cut(rest, "|")
	last, inside, ok3 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || !ok3 {
		return geofence.DeviceState{Inside: map[string]geofence.Presence{}}, ""
	}
	n := 0
	if inside != "" {
		n = strings.Count(inside, ";") + 1
	}
	st := geofence.DeviceState{Inside: make(map[string]geofence.Presence, n)}
	if ns, err := strconv.ParseInt(ts, 10, 64); err == nil && ns != 0 {
		st.LastTS = time.Unix(0, ns).UTC()
	}
	if lon, lat, ok := strings.Cut(last, ","); ok {
		st.Last[0], _ = strconv.ParseFloat(lon, 64)
		st.Last[1], _ = strconv.ParseFloat(lat, 64)
	}
	for inside != "" {
		var p string
		p, inside, _ = strings.Cut(inside, ";")
		// "<fence>,<since ns>,<dwelled 0/1>,<leaving 0/1>"; anything else is skipped
		id, p, ok1 := strings.Cut(p, ",")
		since, p, ok2 := strings.Cut(p, ",")
		dwelled, leaving, ok3 := strings.Cut(p, ",")
		if !ok1 || !ok2 || !ok3 || strings.Contains(leaving, ",") {
			continue
		}
		ns, _ := strconv.ParseInt(since, 10, 64)
		st.Inside[id] = geofence.Presence{Since: time.Unix(0, ns).UTC(), Dwelled: dwelled == "1", Leaving: leaving == "1"}
	}
	return st, version
}

func encodeGeoState(st geofence.DeviceState, version string) string {
	n, _ := strconv.ParseInt(version, 10, 64)
	b := make([]byte, 0, 64+48*len(st.Inside))
	b = strconv.AppendInt(b, n+1, 10)
	b = append(b, '|')
	if !st.LastTS.IsZero() {
		b = strconv.AppendInt(b, st.LastTS.UnixNano(), 10)
	}
	b = append(b, '|')
	b = strconv.AppendFloat(b, st.Last[0], 'g', -1, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, st.Last[1], 'g', -1, 64)
	b = append(b, '|')
	first := true
	for id, p := range st.Inside {
		if !first {
			b = append(b, ';')
		}
		first = false
		b = append(b, id...)
		b = append(b, ',')
		b = strconv.AppendInt(b, p.Since.UnixNano(), 10)
		b = append(b, ',')
		b = append(b, boolArg(p.Dwelled)...)
		b = append(b, ',')
		b = append(b, boolArg(p.Leaving)...)
	}
	return string(b)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
