package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/backoff"
	"github.com/geotrack/geotrack/internal/metrics"
)

// Job is the head of one delivery queue (one rule and device): the alert
// to deliver now, with the rule's current webhook.
type Job struct {
	Tenant   string
	AlertID  string
	Queue    string // the queue it heads, opaque to the dispatcher
	URL      string // empty: the rule is gone
	Secret   string
	Body     []byte
	Attempts int       // attempts made so far
	Since    time.Time // when delivery (re)started: the horizon counts from here
}

// Result of one attempt as the queue records it.
type Result struct {
	Attempt
	Attempts int
	Next     time.Time // Retry: when to try again
}

// Queue is the durable delivery queue (internal/redisstore implements it).
type Queue interface {
	// DeliveryTenants lists tenants that may have queued deliveries.
	DeliveryTenants(ctx context.Context) ([]string, error)
	// Lock takes the tenant's delivery lock for ttl; ok is false when
	// another replica holds it.
	Lock(ctx context.Context, tenant string, ttl time.Duration) (unlock func(), ok bool, err error)
	// Due returns the head of every queue of tenant due at now, at most limit.
	Due(ctx context.Context, tenant string, now time.Time, limit int) ([]Job, error)
	// Record stores the result of delivering job: Delivered and Dead pop it
	// (Dead into the dead letters), Retry reschedules its queue at r.Next.
	Record(ctx context.Context, job Job, r Result, now time.Time) error
}

// Config tunes a dispatcher.
type Config struct {
	Client      *http.Client
	Retry       backoff.Policy // waits between attempts
	Horizon     time.Duration  // retries stop after this long: dead letter
	Parallel    int            // deliveries at once per tenant (default 8)
	Timeout     time.Duration  // one attempt (the client's timeout); the lock outlives a round of them
	Metrics     *metrics.Registry
	MaxRounds   int // rounds per tenant and pass (default 100)
	BatchPerRun int // queues taken per round (default 64)
}

// Dispatcher drains the delivery queues.
type Dispatcher struct {
	q   Queue
	cfg Config
	now func() time.Time

	delivered, retried, dead *metrics.Counter
}

// NewDispatcher builds a dispatcher over q.
func NewDispatcher(q Queue, cfg Config) *Dispatcher {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.MaxRounds <= 0 {
		cfg.MaxRounds = 100
	}
	if cfg.BatchPerRun <= 0 {
		cfg.BatchPerRun = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.Timeout, false)
	}
	d := &Dispatcher{q: q, cfg: cfg, now: time.Now}
	reg := cfg.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	attempts := reg.NewCounterVec("geotrack_webhook_deliveries_total", "Webhook delivery attempts by outcome.", "outcome")
	d.delivered, d.retried, d.dead = attempts.With("delivered"), attempts.With("retry"), attempts.With("dead")
	return d
}

// Pass is what one pass delivered.
type Pass struct {
	Delivered int `json:"delivered"`
	Retried   int `json:"retried"`
	Dead      int `json:"dead_lettered"`
}

// RunOnce delivers everything due now, tenant by tenant.
func (d *Dispatcher) RunOnce(ctx context.Context) (Pass, error) {
	tenants, err := d.q.DeliveryTenants(ctx)
	if err != nil {
		return Pass{}, err
	}
	var pass Pass
	var errs []error
	for _, t := range tenants {
		if err := d.tenant(ctx, t, &pass); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
		}
	}
	return pass, errors.Join(errs...)
}

func (d *Dispatcher) tenant(ctx context.Context, tenant string, pass *Pass) error {
	for round := 0; round < d.cfg.MaxRounds && ctx.Err() == nil; round++ {
		unlock, ok, err := d.q.Lock(ctx, tenant, 2*d.cfg.Timeout+5*time.Second)
		if err != nil || !ok {
			return err // another replica delivers this tenant's alerts
		}
		jobs, err := d.q.Due(ctx, tenant, d.now(), d.cfg.BatchPerRun)
		if err != nil || len(jobs) == 0 {
			unlock()
			return err
		}
		err = d.round(ctx, jobs, pass)
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// round delivers the heads of distinct queues in parallel: order within a
// queue holds because only its head is ever in flight.
func (d *Dispatcher) round(ctx context.Context, jobs []Job, pass *Pass) error {
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, d.cfg.Parallel)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := d.deliver(ctx, job)
			err := d.q.Record(ctx, job, r, d.now())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("record alert %s: %w", job.AlertID, err))
				return
			}
			switch r.Verdict {
			case Delivered:
				pass.Delivered++
				d.delivered.Inc()
			case Retry:
				pass.Retried++
				d.retried.Inc()
			case Dead:
				pass.Dead++
				d.dead.Inc()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Dispatcher) deliver(ctx context.Context, job Job) Result {
	now := d.now()
	var a Attempt
	if job.URL == "" {
		a = Attempt{Verdict: Dead, Err: "the rule was deleted"}
	} else {
		a = Post(ctx, d.cfg.Client, job.URL, job.Secret, job.AlertID, job.Body, now)
	}
	r := Result{Attempt: a, Attempts: job.Attempts + 1}
	if a.Verdict != Retry {
		return r
	}
	wait := max(d.cfg.Retry.Delay(r.Attempts), a.RetryAfter)
	r.Next = d.now().Add(wait)
	if !job.Since.IsZero() && r.Next.Sub(job.Since) > d.cfg.Horizon {
		r.Verdict = Dead
		r.Err = fmt.Sprintf("retries exhausted after %v (horizon %v): %s", d.now().Sub(job.Since).Round(time.Second), d.cfg.Horizon, a.Err)
	}
	slog.Debug("webhook attempt", "alert", job.AlertID, "verdict", r.Verdict, "status", a.Status, "err", a.Err)
	return r
}

// Run delivers every interval and whenever wake fires, until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, wake <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("webhook delivery pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}
