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

// Recorder queues entries and appends them in batches from one goroutine,
// so a request pays a channel send, not a Redis round trip.
type Recorder struct {
	app     Appender
	queue   chan Entry
	log     *slog.Logger
	written *metrics.Counter
	dropped *metrics.Counter

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
		app: app, queue: make(chan Entry, queueSize), log: slog.Default(),
		written: reg.NewCounter("geotrack_audit_entries_total", "Audit entries appended to the tenants' audit logs."),
		dropped: reg.NewCounter("geotrack_audit_dropped_total", "Audit entries given up after the audit log refused them "+
			"(Redis down for several attempts) or queued after shutdown."),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.run()
	return r
}

// Audit implements httpkit.Auditor. When the queue is full it waits (the
// response is already written): an audit trail does not drop under load.
func (r *Recorder) Audit(a httpkit.Access) {
	e, ok := EntryOf(a)
	if !ok {
		return
	}
	select {
	case <-r.stop:
		r.dropped.Inc()
	case r.queue <- e:
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	batch := make([]Entry, 0, maxBatch)
	for {
		select {
		case e := <-r.queue:
			batch = append(batch[:0], e)
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
func (r *Recorder) drain(batch []Entry) []Entry {
	for len(batch) < maxBatch {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

func (r *Recorder) flush(batch []Entry) {
	var err error
	for attempt := range appendAttempts {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = r.app.AppendAudit(ctx, batch)
		cancel()
		if err == nil {
			r.written.Add(float64(len(batch)))
			return
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	r.dropped.Add(float64(len(batch)))
	r.log.Error("audit entries lost: the audit log refused them", slog.Int("entries", len(batch)), slog.Any("error", err))
}

// Close appends what is queued and stops.
func (r *Recorder) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return nil
}
