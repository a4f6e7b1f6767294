package redisstore

// The event log's Go API as the fences branch (h7, internal/redisstore/
// eventlog.go) defines it, with the same names, signatures and layout, so
// that movement writes the log before that branch is merged. When merging
// h7: delete this file; movement then uses h7's functions unchanged.

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventLogField is the stream field holding one structured CloudEvent.
const EventLogField = "ce"

// EventLogKey is tenant's event log stream.
func EventLogKey(prefix, tenant string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + ":{" + tenant + "}:eventlog"
}

// AppendEvents queues XADDs of ces (structured-mode CloudEvent JSON) to
// tenant's event log on pipe, trimming entries older than retention.
func AppendEvents(ctx context.Context, pipe redis.Pipeliner, prefix, tenant string, retention time.Duration, now time.Time, ces ...[]byte) {
	key := EventLogKey(prefix, tenant)
	minID := strconv.FormatInt(now.Add(-retention).UnixMilli(), 10)
	for _, ce := range ces {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MinID: minID, Approx: true, Values: []any{EventLogField, ce}})
	}
}
