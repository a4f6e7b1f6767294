package eventoutbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
)

// relayMetrics keeps the last known depth and oldest entry of every
// outbox: a full pass reads them all, a pass over woken tenants refreshes
// those, and deliveries lower them, so the gauges follow between passes.
type relayMetrics struct {
	mu     sync.Mutex
	depth  map[outboxOf]int64 // events waiting
	oldest map[outboxOf]int64 // unix ms of the oldest waiting event

	delivered *metrics.Counter
	failed    *metrics.CounterVec
	dead      *metrics.Counter
}

// outboxOf names one outbox: its kind (outboxKind.name) and tenant.
type outboxOf struct{ kind, tenant string }

func newRelayMetrics(reg *metrics.Registry) *relayMetrics {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := &relayMetrics{depth: map[outboxOf]int64{}, oldest: map[outboxOf]int64{}}
	reg.NewGaugeFunc("geotrack_event_outbox_depth", "Events waiting in the event outboxes of all tenants.",
		func() float64 { return float64(m.totalDepth()) })
	reg.NewGaugeFunc("geotrack_event_outbox_oldest_age_seconds", "Age of the oldest event waiting in an event outbox.",
		func() float64 { return m.oldestAge(time.Now()) })
	m.delivered = reg.NewCounter("geotrack_events_delivered_total", "Events the sink acknowledged (removed from the outbox).")
	m.failed = reg.NewCounterVec("geotrack_events_failed_total",
		"Failed relay deliveries by reason: sink (unreachable or erroring; retried) or redis.", "reason")
	m.dead = reg.NewCounter("geotrack_events_dead_lettered_total",
		"Outbox entries moved to a dead-letter stream (refused by the sink or undecodable).")
	return m
}

func (m *relayMetrics) totalDepth() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, d := range m.depth {
		n += d
	}
	return n
}

func (m *relayMetrics) oldestAge(now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var oldest int64
	for _, ms := range m.oldest {
		if oldest == 0 || ms < oldest {
			oldest = ms
		}
	}
	if oldest == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMilli(oldest)).Seconds())
}

// drained lowers the depth of tenant's outbox of kind by n delivered or
// dead-lettered events; the oldest entry is known again at the next read.
func (m *relayMetrics) drained(kind, tenant string, n int) {
	if n == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o := outboxOf{kind, tenant}
	if m.depth[o] -= int64(n); m.depth[o] <= 0 {
		delete(m.depth, o)
		delete(m.oldest, o)
	}
}

// readDepths reads the depths and oldest entries of this kind's outboxes in
// one pipeline, records them for the gauges and returns the depth per
// tenant. A full read (tenants is every tenant) also forgets tenants no
// longer listed.
func (d *drainer) readDepths(ctx context.Context, tenants []string, full bool) (map[string]int64, error) {
	r := d.r
	depths := make(map[string]int64, len(tenants))
	oldest := make(map[string]int64, len(tenants))
	if len(tenants) > 0 {
		pipe := r.client.Pipeline()
		lens := make([]*redis.IntCmd, len(tenants))
		heads := make([]*redis.XMessageSliceCmd, len(tenants))
		for i, t := range tenants {
			key := d.kind.key(r.cfg.KeyPrefix, t)
			lens[i] = pipe.XLen(ctx, key)
			heads[i] = pipe.XRangeN(ctx, key, "-", "+", 1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("event relay: read outbox depths: %w", err)
		}
		for i, t := range tenants {
			depths[t] = lens[i].Val()
			if msgs := heads[i].Val(); len(msgs) > 0 {
				if at, err := outbox.EntryTime(msgs[0].ID); err == nil {
					oldest[t] = at.UnixMilli()
				}
			}
		}
	}
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if full {
		for o := range m.depth {
			if o.kind == d.kind.name {
				delete(m.depth, o)
			}
		}
		for o := range m.oldest {
			if o.kind == d.kind.name {
				delete(m.oldest, o)
			}
		}
	}
	for _, t := range tenants {
		o := outboxOf{d.kind.name, t}
		delete(m.depth, o)
		delete(m.oldest, o)
		if depths[t] > 0 {
			m.depth[o] = depths[t]
		}
		if oldest[t] > 0 {
			m.oldest[o] = oldest[t]
		}
	}
	return depths, nil
}

// Stats is the relay's view, for logs and tests.
type Stats struct {
	Depth            int64   // as last read, minus deliveries since
	OldestAgeSeconds float64 // now
	Delivered        int64   // by this process
	DeadLettered     int64   // by this process
}

// Stats returns the current values.
func (r *Relay) Stats() Stats {
	return Stats{Depth: r.m.totalDepth(), OldestAgeSeconds: r.m.oldestAge(time.Now()),
		Delivered: int64(r.m.delivered.Value()), DeadLettered: int64(r.m.dead.Value())}
}
