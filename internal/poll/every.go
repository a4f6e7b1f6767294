package poll

import (
	"context"
	"time"
)

// DefaultSyncInterval is the period of Every when the caller's is not set:
// the edge's pulls from the cloud (preferences, fences and rules, erasures).
const DefaultSyncInterval = 30 * time.Second

// Every calls run right away and then every interval (DefaultSyncInterval
// when interval <= 0) until ctx ends: the one loop of the edge's periodic
// pulls. run reports its own outcome; a failure waits for the next tick.
func Every(ctx context.Context, interval time.Duration, run func(ctx context.Context)) {
	if interval <= 0 {
		interval = DefaultSyncInterval
	}
	for {
		run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
