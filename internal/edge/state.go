package edge

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

// stateStore keeps each device's filter state in the edge Redis, so a
// restarted or second replica of edge-ingest continues every device's
// stream exactly where it was: undecided fixes are never only in memory.
type stateStore struct {
	client  redis.UniversalClient
	states  string // HASH tenant\x1fdevice → edgefilter.State JSON
	pending string // ZSET tenant\x1fdevice → last push (unix ms), for devices with undecided fixes
}

func newStateStore(client redis.UniversalClient) *stateStore {
	return &stateStore{client: client, states: "gt:{edge}:fstate", pending: "gt:{edge}:fpending"}
}

func member(tenant, device string) string { return tenant + "\x1f" + device }

func splitMember(m string) (tenant, device string, ok bool) {
	return strings.Cut(m, "\x1f")
}

// load returns the filters of the given devices (new ones for unknown).
func (s *stateStore) load(ctx context.Context, tenant string, devices []string, settings Settings) (map[string]*edgefilter.Filter, error) {
	out := make(map[string]*edgefilter.Filter, len(devices))
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
			out[d] = edgefilter.New(settings.For(d))
			continue
		}
		var st edgefilter.State
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			return nil, fmt.Errorf("filter state of %s: %w", d, err)
		}
		f, err := edgefilter.FromState(settings.For(d), st)
		if err != nil {
			return nil, fmt.Errorf("filter state of %s: %w", d, err)
		}
		out[d] = f
	}
	return out, nil
}

// save writes the filters' state and tracks which devices hold undecided
// fixes (for the idle flush), in one transaction.
func (s *stateStore) save(ctx context.Context, tenant string, filters map[string]*edgefilter.Filter, now time.Time) error {
	if len(filters) == 0 {
		return nil
	}
	pipe := s.client.TxPipeline()
	for d, f := range filters {
		js, err := json.Marshal(f.State())
		if err != nil {
			return fmt.Errorf("encode filter state of %s: %w", d, err)
		}
		pipe.HSet(ctx, s.states, member(tenant, d), js)
		if f.Pending() > 0 {
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

// idle returns devices whose undecided fixes have waited since before cutoff.
func (s *stateStore) idle(ctx context.Context, cutoff time.Time, max int64) ([]string, error) {
	return s.client.ZRangeByScore(ctx, s.pending, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(cutoff.UnixMilli(), 10), Count: max,
	}).Result()
}
