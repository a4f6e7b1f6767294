package redisstore

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

// Latest returns the newest fix of device; ok is false when there is none.
func (s *Store) Latest(ctx context.Context, tenant, device string) (f fix.Fix, ok bool, err error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return fix.Fix{}, false, fmt.Errorf("redisstore: latest: %w", err)
	}
	raw, err := s.client.HGet(ctx, keys.last(), device).Result()
	if errors.Is(err, redis.Nil) {
		return fix.Fix{}, false, nil
	}
	if err != nil {
		return fix.Fix{}, false, fmt.Errorf("redisstore: latest of %q: %w", device, err)
	}
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return fix.Fix{}, false, fmt.Errorf("redisstore: latest of %q: decode stored fix: %w", device, err)
	}
	return f, true, nil
}

// Nearby is one device found by Store.Nearby.
type Nearby struct {
	Fix       fix.Fix
	DistanceM float64 // from the query point, metres
}

// Nearby returns up to limit devices whose latest position is within radiusM
// metres of (lat, lon), nearest first.
func (s *Store) Nearby(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]Nearby, error) {
	raws, err := s.NearbyRaw(ctx, tenant, lat, lon, radiusM, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Nearby, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r.JSON, &out[i].Fix); err != nil {
			return nil, fmt.Errorf("redisstore: nearby: decode stored fix: %w", err)
		}
		out[i].DistanceM = r.DistanceM
	}
	return out, nil
}

//go:embed nearby.lua
var nearbyLua string

var nearbyScript = redis.NewScript(nearbyLua)

// NearbyRaw is Nearby without decoding the fixes, for callers that pass the
// JSON through (the nearby function): one script, one round trip.
func (s *Store) NearbyRaw(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]locate.Hit, error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return nil, fmt.Errorf("redisstore: nearby: %w", err)
	}
	if err := checkNearby(lat, lon, radiusM, limit); err != nil {
		return nil, fmt.Errorf("redisstore: nearby: %w", err)
	}
	reply, err := nearbyScript.Run(ctx, s.client, []string{keys.geo(), keys.last()},
		strconv.FormatFloat(lon, 'f', -1, 64), strconv.FormatFloat(lat, 'f', -1, 64),
		strconv.FormatFloat(radiusM, 'f', -1, 64), limit).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: nearby: %w", err)
	}
	out := make([]locate.Hit, 0, len(reply)/2)
	for i := 0; i+1 < len(reply); i += 2 {
		dist, _ := reply[i].(string)
		js, _ := reply[i+1].(string)
		d, err := strconv.ParseFloat(dist, 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: nearby: distance %q: %w", dist, err)
		}
		out = append(out, locate.Hit{JSON: []byte(js), DistanceM: d})
	}
	return out, nil
}

func checkNearby(lat, lon, radiusM float64, limit int) error {
	switch {
	case math.IsNaN(lat) || math.Abs(lat) > fix.MaxLat:
		return fmt.Errorf("%w: lat %g is outside ±%g", ErrInvalidArgument, lat, fix.MaxLat)
	case math.IsNaN(lon) || math.Abs(lon) > 180:
		return fmt.Errorf("%w: lon %g is outside ±180", ErrInvalidArgument, lon)
	case math.IsNaN(radiusM) || math.IsInf(radiusM, 0) || radiusM <= 0:
		return fmt.Errorf("%w: radius %g m must be a positive number", ErrInvalidArgument, radiusM)
	}
	return checkLimit(limit)
}

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return fmt.Errorf("%w: limit %d is outside 1..%d", ErrInvalidArgument, limit, MaxLimit)
	}
	return nil
}

// History returns device's fixes with from <= ts <= to in time order, at
// most limit per page. Zero from or to means unbounded. Pass the previous
// page's Next as cursor to continue; a cursor that was not produced by
// History for this range fails with an error wrapping locate.ErrBadCursor.
func (s *Store) History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return locate.Page{}, fmt.Errorf("redisstore: history: %w", err)
	}
	if err := checkLimit(limit); err != nil {
		return locate.Page{}, fmt.Errorf("redisstore: history: %w", err)
	}
	minMS, maxMS := locate.MSRange(from, to)
	if minMS > maxMS {
		return locate.Page{}, fmt.Errorf("redisstore: history: %w: from %s is after to %s", ErrInvalidArgument, fix.FormatTime(from), fix.FormatTime(to))
	}
	if cursor != "" {
		ts, err := decodeCursor(cursor)
		if err != nil {
			return locate.Page{}, fmt.Errorf("redisstore: history: %w", err)
		}
		if ts < minMS || ts > maxMS {
			return locate.Page{}, fmt.Errorf("redisstore: history: %w: points outside the queried range", locate.ErrBadCursor)
		}
		minMS = ts
	}

	fixes, err := s.readHistory(ctx, keys, device, minMS, maxMS, limit+1) // one extra tells whether there is a next page
	if err != nil {
		return locate.Page{}, fmt.Errorf("redisstore: history of %q: %w", device, err)
	}
	var page locate.Page
	if len(fixes) > limit {
		page.Next = encodeCursor(fixes[limit].TS.UnixMilli())
		fixes = fixes[:limit]
	}
	page.Fixes = fixes
	return page, nil
}

// readHistory returns up to want of device's points with minMS <= ts <=
// maxMS, in time order. It walks the device's index in score order (a
// bucket's score is its start, so its points are at or after it) and stops
// once want points are found that no unread entry can precede.
func (s *Store) readHistory(ctx context.Context, keys tenantKeys, device string, minMS, maxMS int64, want int) ([]fix.Fix, error) {
	lo := int64(math.MinInt64)
	if minMS != math.MinInt64 {
		lo = minMS - bucketMS + 1 // the bucket holding minMS starts after this
	}
	batch := min(4+want/300, 256) // index entries per round trip
	out := []fix.Fix{}
	var legacy []byte
	for offset := 0; ; {
		entries, err := s.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: keys.history(device), Start: scoreBound(lo, "-inf"), Stop: scoreBound(maxMS, "+inf"),
			ByScore: true, Offset: int64(offset), Count: int64(batch),
		}).Result()
		if err != nil {
			return nil, err
		}
		offset += len(entries)
		var bucketKeys []string
		var starts []int64
		legacy = append(legacy[:0], '[')
		for _, e := range entries {
			m, _ := e.Member.(string)
			if strings.HasPrefix(m, "{") {
				// A point stored as JSON before history had buckets.
				if len(legacy) > 1 {
					legacy = append(legacy, ',')
				}
				legacy = append(legacy, m...)
				continue
			}
			n, err := strconv.ParseInt(m, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: index member %q", errBadRecord, clip.String(m, 40))
			}
			bucketKeys = append(bucketKeys, keys.bucket(device, n))
			starts = append(starts, n*bucketMS)
		}
		if len(bucketKeys) > 0 {
			vals, err := s.client.MGet(ctx, bucketKeys...).Result()
			if err != nil {
				return nil, err
			}
			for i, v := range vals {
				str, ok := v.(string)
				if !ok {
					continue // expired since the index was read
				}
				first := len(out)
				out, err = decodeBucket(out, []byte(str), device, starts[i])
				if err != nil {
					return nil, fmt.Errorf("bucket %s: %w", bucketKeys[i], err)
				}
				out = append(out[:first], inRange(out[first:], minMS, maxMS)...)
			}
		}
		if len(legacy) > 1 {
			fixes, errs, err := fix.DecodeBatch(append(legacy, ']'), "")
			if err != nil {
				return nil, fmt.Errorf("decode stored fixes: %w", err)
			}
			for _, e := range errs {
				if e != nil {
					return nil, fmt.Errorf("decode stored fix: %w", e)
				}
			}
			out = append(out, inRange(fixes, minMS, maxMS)...)
		}
		slices.SortStableFunc(out, func(a, b fix.Fix) int { return a.TS.Compare(b.TS) })
		if len(entries) < batch {
			break // the index is read to its end
		}
		if len(legacy) > 1 {
			// History from before buckets has an entry per point: read
			// the rest of the page in one go.
			batch = max(batch, want-len(out)+1)
		}
		// Unread entries score at least the last read one, and their points
		// are no earlier than their score.
		if len(out) >= want && out[want-1].TS.UnixMilli() < int64(entries[len(entries)-1].Score) {
			break
		}
	}
	if len(out) > want {
		out = out[:want]
	}
	return out, nil
}

// inRange filters fixes in place to minMS <= ts <= maxMS.
func inRange(fixes []fix.Fix, minMS, maxMS int64) []fix.Fix {
	kept := fixes[:0]
	for _, f := range fixes {
		if ms := f.TS.UnixMilli(); ms >= minMS && ms <= maxMS {
			kept = append(kept, f)
		}
	}
	return kept
}

// scoreBound writes ms as a ZRANGE score, or the infinity for an open end.
func scoreBound(ms int64, open string) string {
	if ms == math.MinInt64 || ms == math.MaxInt64 {
		return open
	}
	return strconv.FormatInt(ms, 10)
}

// Devices lists the tenant's device ids, sorted.
func (s *Store) Devices(ctx context.Context, tenant string) ([]string, error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return nil, fmt.Errorf("redisstore: devices: %w", err)
	}
	ids, err := s.client.SMembers(ctx, keys.devices()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: devices: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// Ping checks that Redis answers, on every master for a cluster, for
// readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
		if err != nil {
			return fmt.Errorf("redisstore: ping cluster: %w", err)
		}
		return nil
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// TrimHistory removes device's history points older than before (a
// device's retention preference shorter than the store's).
func (s *Store) TrimHistory(ctx context.Context, tenant, device string, before time.Time) error {
	if _, err := s.trim(ctx, tenant, device, before, -1); err != nil {
		return fmt.Errorf("redisstore: trim history: %w", err)
	}
	return nil
}

// latestChunk bounds the devices of one HMGET of the latest fixes.
const latestChunk = 1000

// LatestSince returns the latest fix JSON of each device of tenant whose
// newest timestamp is after since (every device when since is zero), newest
// first, at most limit of them; more is true when some were left out. It
// reads the small device → timestamp hash first, so a poll that finds few
// changes fetches only those fixes.
func (s *Store) LatestSince(ctx context.Context, tenant string, since time.Time, limit int) (fixes []json.RawMessage, more bool, err error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: latest since: %w", err)
	}
	if limit < 1 {
		return nil, false, fmt.Errorf("redisstore: latest since: %w: limit %d is below 1", ErrInvalidArgument, limit)
	}
	stamps, err := s.client.HGetAll(ctx, keys.lastTS()).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redisstore: latest since: %w", err)
	}
	type stamped struct {
		device string
		ms     int64
	}
	sinceMS := int64(math.MinInt64)
	if !since.IsZero() {
		sinceMS = since.UnixMilli()
	}
	changed := make([]stamped, 0, len(stamps))
	for device, v := range stamps {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("redisstore: latest since: timestamp %q of %q: %w", v, device, err)
		}
		if ms > sinceMS {
			changed = append(changed, stamped{device, ms})
		}
	}
	slices.SortFunc(changed, func(a, b stamped) int {
		if a.ms != b.ms {
			return cmp.Compare(b.ms, a.ms)
		}
		return strings.Compare(a.device, b.device)
	})
	if len(changed) > limit {
		changed, more = changed[:limit], true
	}
	fixes = make([]json.RawMessage, 0, len(changed))
	for i := 0; i < len(changed); i += latestChunk {
		names := make([]string, 0, latestChunk)
		for _, c := range changed[i:min(i+latestChunk, len(changed))] {
			names = append(names, c.device)
		}
		vals, err := s.client.HMGet(ctx, keys.last(), names...).Result()
		if err != nil {
			return nil, false, fmt.Errorf("redisstore: latest since: %w", err)
		}
		for _, v := range vals {
			if js, ok := v.(string); ok { // a device erased meanwhile has none
				fixes = append(fixes, json.RawMessage(js))
			}
		}
	}
	return fixes, more, nil
}
