package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
)

// Appender stores entries (redisstore.AuditLog): one pipeline per batch.
type Appender interface {
	AppendAudit(ctx context.Context, entries []Entry) error
}

// Recorder appends entries in batches from one goroutine: concurrent
// requests share one pipeline (a group commit), and each waits for its
// batch, so what a client was answered is in the trail. Requests that are
// not audited (ingest, position, nearby...) never reach it.
type Recorder struct {
	app     Appender
	queue   chan queued
	log     *slog.Logger
	written *metrics.Counter
	dropped *metrics.Counter

	// wait bounds how long a request waits for its batch; past it the
	// entry is still appended, later.
	wait time.Duration

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// Sizes of the queue and of one append.
const (
	queueSize = 4096
	maxBatch  = 256
	// appendAttempts are tried before a batch is given up (logged and
	// counted in geotrack_audit_dropped_total).
	appendAttempts = 3
)

// NewRecorder starts a recorder appending to app; reg (nil: none) gets
// its counters. Close flushes and stops it.
func NewRecorder(app Appender, reg *metrics.Registry) *Recorder {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	r := &Recorder{
		app: app, queue: make(chan queued, queueSize), log: slog.Default(), wait: 2 * time.Second,
		written: reg.NewCounter("geotrack_audit_entries_total", "Audit entries appended to the tenants' audit logs."),
		dropped: reg.NewCounter("geotrack_audit_dropped_total", "Audit entries given up after the audit log refused them "+
			"(Redis down for several attempts) or queued after shutdown."),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.run()
	return r
}

// queued is an entry and the request waiting for it.
type queued struct {
	e    Entry
	done chan struct{}
}

// Audit implements httpkit.Auditor: it queues the entry and waits (at most
// r.wait) until its batch is appended.
func (r *Recorder) Audit(a httpkit.Access) {
	e, ok := EntryOf(a)
	if !ok {
		return
	}
	q := queued{e: e, done: make(chan struct{})}
	timeout := time.NewTimer(r.wait)
	defer timeout.Stop()
	select {
	case <-r.stop:
		r.dropped.Inc()
		return
	case r.queue <- q:
	case <-timeout.C:
		r.dropped.Inc()
		r.log.Error("audit entry lost: the audit queue stayed full", slog.String("action", e.Action), slog.String("tenant", e.Tenant))
		return
	}
	select {
	case <-q.done:
	case <-timeout.C:
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	batch := make([]queued, 0, maxBatch)
	for {
		select {
		case q := <-r.queue:
			batch = append(batch[:0], q)
			batch = r.drain(batch)
			r.flush(batch)
		case <-r.stop:
			for {
				batch = r.drain(batch[:0])
				if len(batch) == 0 {
					return
				}
				r.flush(batch)
			}
		}
	}
}

// drain adds what is already queued, up to a batch.
func (r *Recorder) drain(batch []queued) []queued {
	for len(batch) < maxBatch {
		select {
		case q := <-r.queue:
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

// flush appends a batch and releases its requests. An audit log that stays
// down loses the batch (logged, counted): the requests were answered
// already, or are waiting, and an outage of the trail does not become an
// outage of the functions.
func (r *Recorder) flush(batch []queued) {
	defer func() {
		for _, q := range batch {
			close(q.done)
		}
	}()
	entries := make([]Entry, len(batch))
	for i, q := range batch {
		entries[i] = q.e
	}
	var err error
	for attempt := range appendAttempts {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = r.app.AppendAudit(ctx, entries)
		cancel()
		if err == nil {
			r.written.Add(float64(len(entries)))
			return
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	r.dropped.Add(float64(len(entries)))
	r.log.Error("audit entries lost: the audit log refused them", slog.Int("entries", len(entries)), slog.Any("error", err))
}

// Close appends what is queued and stops.
func (r *Recorder) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return nil
}
