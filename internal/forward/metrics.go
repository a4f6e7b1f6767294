package forward

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/geotrack/geotrack/internal/metrics"
)

// Metrics is a snapshot of the forwarder's health, for logs and tests; the
// same values are published in Config.Metrics.
type Metrics struct {
	Backlog           int64     // outbox depth at the last RunOnce
	OldestAgeSeconds  float64   // age of the oldest queued entry, now
	DeadLetters       int64     // entries in the dead-letter stream at the last RunOnce
	SentTotal         int64     // fixes delivered by this process
	FailuresTotal     int64     // failed runs (HTTP, network, Redis) of this process
	DeadLetteredTotal int64     // entries this process dead-lettered after a rejection
	LastSuccess       time.Time // last 2xx; zero if none yet
}

type forwardMetrics struct {
	f *Forwarder

	backlog     atomic.Int64
	oldestMilli atomic.Int64 // 0 when empty
	deadLetters atomic.Int64
	sent        atomic.Int64
	failures    atomic.Int64
	dead        atomic.Int64
	lastSuccess atomic.Int64 // unix ms

	sentC     *metrics.Counter
	batchesC  *metrics.Counter
	failuresC *metrics.CounterVec
	deadC     *metrics.Counter
}

// newForwardMetrics registers the forwarder's metrics in reg (a private
// registry when nil). With several forwarders on one registry the counters
// add up and the gauges read the first one.
func newForwardMetrics(reg *metrics.Registry, f *Forwarder) *forwardMetrics {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := &forwardMetrics{f: f}
	reg.NewGaugeFunc("geotrack_outbox_depth", "Fixes waiting in the edge outbox.",
		func() float64 { return float64(m.backlog.Load()) })
	reg.NewGaugeFunc("geotrack_outbox_oldest_age_seconds", "Age of the oldest fix waiting in the edge outbox.",
		func() float64 { return m.oldestAge(time.Now()) })
	reg.NewGaugeFunc("geotrack_forward_dead_letters", "Entries in the edge outbox's dead-letter stream.",
		func() float64 { return float64(m.deadLetters.Load()) })
	m.sentC = reg.NewCounter("geotrack_forward_sent_total", "Fixes delivered to the cloud (2xx).")
	m.batchesC = reg.NewCounter("geotrack_forward_batches_total", "Events delivered to the cloud (2xx).")
	m.failuresC = reg.NewCounterVec("geotrack_forward_failures_total",
		"Failed forward runs by reason: http (5xx, 408, 429...), auth (401/403), network, redis.", "reason")
	m.deadC = reg.NewCounter("geotrack_forward_dead_lettered_total",
		"Fixes the cloud rejected, moved to the dead-letter stream.")
	return m
}

func (m *forwardMetrics) delivered(n int) {
	m.sent.Add(int64(n))
	m.sentC.Add(float64(n))
	m.batchesC.Inc()
	m.lastSuccess.Store(time.Now().UnixMilli())
}

func (m *forwardMetrics) failure(reason string) {
	m.failures.Add(1)
	m.failuresC.With(reason).Inc()
}

func (m *forwardMetrics) deadLettered(n int) {
	m.dead.Add(int64(n))
	m.deadC.Add(float64(n))
}

func (m *forwardMetrics) oldestAge(now time.Time) float64 {
	ms := m.oldestMilli.Load()
	if ms == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMilli(ms)).Seconds())
}

// refreshStats reads the outbox depth for the gauges and returns it, or -1
// when Redis cannot be read (the gauges keep their last value).
func (f *Forwarder) refreshStats(ctx context.Context) int64 {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
	defer cancel()
	s, err := f.ob.Stats(sctx)
	if err != nil {
		f.log.Warn("forward: read outbox stats", "err", err)
		return -1
	}
	f.m.backlog.Store(s.Depth)
	f.m.deadLetters.Store(s.DeadLetters)
	if s.Oldest.IsZero() {
		f.m.oldestMilli.Store(0)
	} else {
		f.m.oldestMilli.Store(s.Oldest.UnixMilli())
	}
	return s.Depth
}

// Metrics returns the current values.
func (f *Forwarder) Metrics() Metrics {
	m := f.m
	out := Metrics{
		Backlog:           m.backlog.Load(),
		OldestAgeSeconds:  m.oldestAge(time.Now()),
		DeadLetters:       m.deadLetters.Load(),
		SentTotal:         m.sent.Load(),
		FailuresTotal:     m.failures.Load(),
		DeadLetteredTotal: m.dead.Load(),
	}
	if ms := m.lastSuccess.Load(); ms != 0 {
		out.LastSuccess = time.UnixMilli(ms)
	}
	return out
}
