package edgeingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
)

// rawLog keeps every valid fix the edge received, filtered or not, for
// RAW_RETENTION: for replaying a day through other filter settings and for
// debugging a device. A Redis stream trimmed by entry id (time).
type rawLog struct {
	client    redis.UniversalClient
	key       string
	retention time.Duration
}

func (r *rawLog) append(ctx context.Context, tenant string, fixes []fix.Fix, now time.Time) error {
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
