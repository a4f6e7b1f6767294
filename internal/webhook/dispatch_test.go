package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/backoff"
)

// fakeQueue holds one queue per name, in order, and records every result.
type fakeQueue struct {
	mu      sync.Mutex
	queues  map[string][]Job
	due     map[string]time.Time
	results map[string][]Result
}

func (q *fakeQueue) DeliveryTenants(context.Context) ([]string, error) { return []string{"acme"}, nil }
func (q *fakeQueue) Lock(context.Context, string, time.Duration) (func(), bool, error) {
	return func() {}, true, nil
}
func (q *fakeQueue) Due(_ context.Context, _ string, now time.Time, limit int) ([]Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Job
	for name, jobs := range q.queues {
		if len(jobs) > 0 && !q.due[name].After(now) && len(out) < limit {
			out = append(out, jobs[0])
		}
	}
	return out, nil
}
func (q *fakeQueue) Record(_ context.Context, job Job, r Result, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.results[job.AlertID] = append(q.results[job.AlertID], r)
	if r.Verdict == Retry {
		q.due[job.Queue] = r.Next
		q.queues[job.Queue][0].Attempts = r.Attempts
		return nil
	}
	q.queues[job.Queue] = q.queues[job.Queue][1:]
	return nil
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestDispatcherVerdicts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusAccepted)
		case "/busy":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	job := func(id, queue, path string, since time.Time) Job {
		j := Job{Tenant: "acme", AlertID: id, Queue: queue, Secret: secret, Body: []byte(`{}`), Since: since}
		if path != "" {
			j.URL = srv.URL + path
		}
		return j
	}
	q := &fakeQueue{due: map[string]time.Time{}, results: map[string][]Result{}, queues: map[string][]Job{
		"ok":      {job("a1", "ok", "/ok", now), job("a2", "ok", "/ok", now)},
		"busy":    {job("b1", "busy", "/busy", now)},
		"down":    {job("c1", "down", "/down", now)},
		"old":     {job("d1", "old", "/down", now.Add(-24*time.Hour))},
		"gone":    {job("e1", "gone", "/missing", now)},
		"deleted": {job("f1", "deleted", "", now)},
	}}
	d := NewDispatcher(q, Config{Client: NewClient(time.Second, true), Retry: backoff.Policy{Min: time.Second, Max: 4 * time.Second}, Horizon: 24 * time.Hour})
	d.now = func() time.Time { return now }
	pass, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// a1 then a2 (same queue, one at a time); b1, c1 retried; d1, e1, f1 dead.
	if pass.Delivered != 2 || pass.Retried != 2 || pass.Dead != 3 {
		t.Fatalf("pass %+v", pass)
	}
	if r := q.results["b1"][0]; r.Verdict != Retry || r.Next.Sub(now) != 120*time.Second {
		t.Errorf("429 with Retry-After 120: %+v, want a retry in 120 s", r)
	}
	if r := q.results["c1"][0]; r.Verdict != Retry || r.Next.Sub(now) != time.Second || r.Status != http.StatusBadGateway {
		t.Errorf("502: %+v, want a retry after Min", r)
	}
	if r := q.results["d1"][0]; r.Verdict != Dead || r.Status != http.StatusBadGateway {
		t.Errorf("5xx past the horizon: %+v, want dead", r)
	}
	if r := q.results["e1"][0]; r.Verdict != Dead || r.Status != http.StatusNotFound {
		t.Errorf("404: %+v, want dead", r)
	}
	if r := q.results["f1"][0]; r.Verdict != Dead || r.Err != "the rule was deleted" {
		t.Errorf("deleted rule: %+v", r)
	}
	// Later passes: c1's waits grow (jittered, within [Min, cap]).
	for attempt := 2; attempt <= 4; attempt++ {
		now = q.due["down"]
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := q.results["c1"][attempt-1]
		ceiling := min(time.Second<<(attempt-1), 4*time.Second)
		if wait := r.Next.Sub(now); r.Attempts != attempt || wait < time.Second || wait > ceiling {
			t.Errorf("attempt %d: wait %v, want within [1s, %v]", attempt, wait, ceiling)
		}
	}
}

// TestTimeoutIsRetried: a receiver that does not answer within the
// client's timeout is retried, not dead-lettered.
func TestTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a := Post(context.Background(), NewClient(100*time.Millisecond, true), srv.URL, secret, "al_1", []byte(`{}`), time.Now())
	if a.Verdict != Retry || a.Status != 0 || a.Err == "" {
		t.Fatalf("timeout: %+v, want a retry", a)
	}
}
