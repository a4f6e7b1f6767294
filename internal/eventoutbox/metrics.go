package eventoutbox

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/redisstore"
)

type relayMetrics struct {
	depth       atomic.Int64
	oldestMilli atomic.Int64 // 0 when every outbox is empty

	delivered *metrics.Counter
	failed    *metrics.CounterVec
	dead      *metrics.Counter
}

func newRelayMetrics(reg *metrics.Registry) *relayMetrics {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := &relayMetrics{}
	reg.NewGaugeFunc("geotrack_event_outbox_depth", "Events waiting in the event outboxes of all tenants (at the relay's last pass).",
		func() float64 { return float64(m.depth.Load()) })
	reg.NewGaugeFunc("geotrack_event_outbox_oldest_age_seconds", "Age of the oldest event waiting in an event outbox.",
		func() float64 {
			ms := m.oldestMilli.Load()
			if ms == 0 {
				return 0
			}
			return max(0, time.Since(time.UnixMilli(ms)).Seconds())
		})
	m.delivered = reg.NewCounter("geotrack_events_delivered_total", "Events the sink acknowledged (removed from the outbox).")
	m.failed = reg.NewCounterVec("geotrack_events_failed_total",
		"Failed relay deliveries by reason: sink (unreachable or erroring; retried) or redis.", "reason")
	m.dead = reg.NewCounter("geotrack_events_dead_lettered_total",
		"Outbox entries moved to a dead-letter stream (refused by the sink or undecodable).")
	return m
}

// drained lowers the depth gauge by n delivered or dead-lettered events.
func (m *relayMetrics) drained(n int) {
	if n == 0 {
		return
	}
	if m.depth.Add(-int64(n)) <= 0 {
		m.depth.Store(0)
		m.oldestMilli.Store(0)
	}
}

// refreshStats reads every outbox's depth and oldest entry in one pipeline,
// updates the gauges and returns the depth per tenant.
func (r *Relay) refreshStats(ctx context.Context, tenants []string) (map[string]int64, error) {
	if len(tenants) == 0 {
		r.m.depth.Store(0)
		r.m.oldestMilli.Store(0)
		return nil, nil
	}
	pipe := r.client.Pipeline()
	lens := make([]*redis.IntCmd, len(tenants))
	heads := make([]*redis.XMessageSliceCmd, len(tenants))
	for i, t := range tenants {
		key := redisstore.EventOutboxKey(r.cfg.KeyPrefix, t)
		lens[i] = pipe.XLen(ctx, key)
		heads[i] = pipe.XRangeN(ctx, key, "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("event relay: read outbox depths: %w", err)
	}
	depths := make(map[string]int64, len(tenants))
	var total, oldest int64
	for i, t := range tenants {
		depths[t] = lens[i].Val()
		total += depths[t]
		if msgs := heads[i].Val(); len(msgs) > 0 {
			if at, err := outbox.EntryTime(msgs[0].ID); err == nil && (oldest == 0 || at.UnixMilli() < oldest) {
				oldest = at.UnixMilli()
			}
		}
	}
	r.m.depth.Store(total)
	r.m.oldestMilli.Store(oldest)
	return depths, nil
}

// Stats is the relay's view, for logs and tests.
type Stats struct {
	Depth            int64   // at the last pass
	OldestAgeSeconds float64 // now
	Delivered        int64   // by this process
	DeadLettered     int64   // by this process
}

// Stats returns the current values.
func (r *Relay) Stats() Stats {
	s := Stats{Depth: r.m.depth.Load(), Delivered: int64(r.m.delivered.Value()), DeadLettered: int64(r.m.dead.Value())}
	if ms := r.m.oldestMilli.Load(); ms != 0 {
		s.OldestAgeSeconds = max(0, time.Since(time.UnixMilli(ms)).Seconds())
	}
	return s
}
