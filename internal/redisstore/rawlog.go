package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
)

// RawLog keeps every valid fix the edge received, filtered or not, for
// RAW_RETENTION: for replaying a day through other filter settings and for
// debugging a device. A Redis stream trimmed by entry id (time).
type RawLog struct {
	client    redis.UniversalClient
	key       string
	retention time.Duration
}

// NewRawLog keeps raw fixes on client for retention (0 keeps none).
func NewRawLog(client redis.UniversalClient, retention time.Duration) *RawLog {
	return &RawLog{client: client, key: RawKey, retention: retention}
}

// Append logs fixes received at now and trims entries older than retention.
func (r *RawLog) Append(ctx context.Context, tenant string, fixes []fix.Fix, now time.Time) error {
	if len(fixes) == 0 || r.retention <= 0 {
		return nil
	}
	minID := strconv.FormatInt(now.Add(-r.retention).UnixMilli(), 10)
	pipe := r.client.Pipeline()
	for _, f := range fixes {
		js, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("raw log: %w", err)
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: r.key, MinID: minID, Approx: true, Values: []any{"tenant", tenant, "fix", js}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("raw log: %w", err)
	}
	return nil
}

// RawFix is one entry of the raw log.
type RawFix struct {
	Tenant string
	Fix    fix.Fix
}

// ReadRaw returns up to max raw fixes received since since (oldest first),
// optionally of one device: for replaying a day through other filter
// settings (`geotrack raw … | geotrack replay`) and for debugging a device.
func ReadRaw(ctx context.Context, client redis.UniversalClient, since time.Time, device string, max int) ([]RawFix, error) {
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	const page = 1000
	var out []RawFix
	for len(out) < max {
		msgs, err := client.XRangeN(ctx, RawKey, start, "+", page).Result()
		if err != nil {
			return nil, fmt.Errorf("read raw log: %w", err)
		}
		for _, m := range msgs {
			js, _ := m.Values["fix"].(string)
			var f fix.Fix
			if err := json.Unmarshal([]byte(js), &f); err != nil {
				continue // a damaged entry stays in the stream for inspection
			}
			if device != "" && f.Device != device {
				continue
			}
			tenant, _ := m.Values["tenant"].(string)
			out = append(out, RawFix{Tenant: tenant, Fix: f})
			if len(out) == max {
				break
			}
		}
		if len(msgs) < page {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID // exclusive: the next page
	}
	return out, nil
}
