package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/edgefilter"
)

// FilterStates keeps each edge device's filter state in the edge Redis, so
// a restarted or second replica of edge-ingest continues every device's
// stream exactly where it was: undecided fixes are never only in memory.
type FilterStates struct {
	client  redis.UniversalClient
	states  string // HASH tenant\x1fdevice → edgefilter.State JSON
	pending string // ZSET tenant\x1fdevice → last push (unix ms), for devices with undecided fixes
}

// NewFilterStates keeps filter states on client under the edge keys.
func NewFilterStates(client redis.UniversalClient) *FilterStates {
	return &FilterStates{client: client, states: FilterStateKey, pending: FilterPendingKey}
}

func member(tenant, device string) string { return tenant + "\x1f" + device }

// Load returns the stored states of the given devices; devices without one
// are absent from the map.
func (s *FilterStates) Load(ctx context.Context, tenant string, devices []string) (map[string]edgefilter.State, error) {
	out := make(map[string]edgefilter.State, len(devices))
	if len(devices) == 0 {
		return out, nil
	}
	fields := make([]string, len(devices))
	for i, d := range devices {
		fields[i] = member(tenant, d)
	}
	vals, err := s.client.HMGet(ctx, s.states, fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("load filter state: %w", err)
	}
	for i, d := range devices {
		js, _ := vals[i].(string)
		if js == "" {
			continue
		}
		var st edgefilter.State
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			return nil, fmt.Errorf("filter state of %s: %w", d, err)
		}
		out[d] = st
	}
	return out, nil
}

// Save writes the states and tracks which devices hold undecided fixes
// (for the idle flush), in one transaction.
func (s *FilterStates) Save(ctx context.Context, tenant string, states map[string]edgefilter.State, now time.Time) error {
	if len(states) == 0 {
		return nil
	}
	pipe := s.client.TxPipeline()
	for d, st := range states {
		js, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode filter state of %s: %w", d, err)
		}
		pipe.HSet(ctx, s.states, member(tenant, d), js)
		if len(st.Pending) > 0 {
			pipe.ZAdd(ctx, s.pending, redis.Z{Score: float64(now.UnixMilli()), Member: member(tenant, d)})
		} else {
			pipe.ZRem(ctx, s.pending, member(tenant, d))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("save filter state: %w", err)
	}
	return nil
}

// Idle returns, by tenant, up to max devices whose undecided fixes have
// waited since before cutoff.
func (s *FilterStates) Idle(ctx context.Context, cutoff time.Time, max int64) (map[string][]string, error) {
	members, err := s.client.ZRangeByScore(ctx, s.pending, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(cutoff.UnixMilli(), 10), Count: max,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("list idle devices: %w", err)
	}
	out := map[string][]string{}
	for _, m := range members {
		tenant, device, ok := strings.Cut(m, "\x1f")
		if !ok {
			continue
		}
		out[tenant] = append(out[tenant], device)
	}
	return out, nil
}
