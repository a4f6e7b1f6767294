package forwarder_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/geotrack/geotrack/functions/forwarder"
	"github.com/geotrack/geotrack/internal/forward"
	ht "github.com/geotrack/geotrack/internal/handlertest"
)

// fakeDrainer answers every drain with res and err and counts the drains.
type fakeDrainer struct {
	res    forward.Result
	err    error
	drains int
}

func (d *fakeDrainer) RunOnce(context.Context) (forward.Result, error) {
	d.drains++
	return d.res, d.err
}

// TestHandleInline is the forwarder without a loop in its process (the
// cron-connector schedules it): each invocation drains once and reports.
// It takes no credentials: a tick only triggers a drain.
func TestHandleInline(t *testing.T) {
	sent := forward.Result{Sent: 1200, Batches: 3, Dead: 1, Backlog: 40, More: true, Alerts: 2}
	cases := []struct {
		name   string
		method string
		res    forward.Result
		err    error
		want   []ht.Matcher
		drains int
	}{
		{"drained", http.MethodPost, sent, nil, []ht.Matcher{
			ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"),
			ht.JSON("sent", 1200), ht.JSON("batches", 3), ht.JSON("dead_lettered", 1), ht.JSON("backlog", 40), ht.JSON("more", true), ht.JSON("alerts_sent", 2),
		}, 1},
		{"GET drains too", http.MethodGet, forward.Result{}, nil, []ht.Matcher{
			ht.Status(http.StatusOK), ht.JSON("", map[string]any{"sent": 0, "batches": 0, "dead_lettered": 0, "backlog": 0, "more": false}),
		}, 1},
		{"another replica holds the lock", http.MethodPost, forward.Result{Backlog: 7}, fmt.Errorf("drain: %w", forward.ErrLocked), []ht.Matcher{
			ht.Status(http.StatusAccepted), ht.JSON("sent", 0), ht.JSON("backlog", 7),
		}, 1},
		{"cloud unreachable", http.MethodPost, forward.Result{Sent: 500, Batches: 1, Backlog: 900}, errors.New("post: connection refused"), []ht.Matcher{
			ht.Status(http.StatusServiceUnavailable), ht.JSON("error", "post: connection refused"),
			ht.JSON("result.sent", 500), ht.JSON("result.backlog", 900),
		}, 1},
		{"PUT refused", http.MethodPut, sent, nil, []ht.Matcher{ht.Status(http.StatusMethodNotAllowed), ht.Error("method")}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDrainer{res: tc.res, err: tc.err}
			resp, err := forwarder.New(d, nil).Handle(ht.Request(tc.method, "", "", nil, `{"specversion":"1.0"}`))
			if err != nil {
				t.Fatal(err)
			}
			ht.Check(t, resp, tc.want...)
			if d.drains != tc.drains {
				t.Errorf("drained %d times, want %d", d.drains, tc.drains)
			}
		})
	}
}

// TestHandleWakesLoop is the forwarder with its own loop (FORWARD_INTERVAL):
// an invocation only nudges the loop, and never blocks when a nudge is
// already pending.
func TestHandleWakesLoop(t *testing.T) {
	d := &fakeDrainer{}
	wake := make(chan struct{}, 1)
	fn := forwarder.New(d, wake)
	for i := range 3 {
		resp, err := fn.Handle(ht.Request(http.MethodPost, "", "", nil, ""))
		if err != nil {
			t.Fatal(err)
		}
		ht.Check(t, resp, ht.Status(http.StatusAccepted), ht.JSON("woken", true), ht.JSON("sent", 0))
		if len(wake) != 1 {
			t.Fatalf("after invocation %d: %d wake-ups pending, want 1", i+1, len(wake))
		}
	}
	if d.drains != 0 {
		t.Errorf("drained inline %d times; the loop drains", d.drains)
	}
}
