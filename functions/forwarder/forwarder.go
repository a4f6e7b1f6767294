// Package forwarder is the function that drains the edge outbox to the
// cloud's ingest. Invoked (by the cron-connector, by the wake-up event edge
// ingest emits, or by hand) it runs one drain and reports what it sent;
// with FORWARD_INTERVAL set it also runs its own loop, which invocations
// merely wake.
package forwarder

import (
	"context"
	"errors"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/forward"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Drainer sends the outbox.
type Drainer interface {
	RunOnce(ctx context.Context) (forward.Result, error)
}

// Function is the forwarder function.
type Function struct {
	drainer Drainer
	wake    chan<- struct{} // nil when no loop runs in this process
}

// New builds forwarder. wake, when not nil, nudges the process's own loop
// instead of draining inline.
func New(drainer Drainer, wake chan<- struct{}) *Function {
	return &Function{drainer: drainer, wake: wake}
}

// Result is the response body.
type Result struct {
	Woken   bool  `json:"woken,omitempty"`
	Sent    int   `json:"sent"`
	Batches int   `json:"batches"`
	Dead    int   `json:"dead_lettered"`
	Backlog int64 `json:"backlog"`
	More    bool  `json:"more"`
	// Alerts: records of the alerts this node fired that the cloud took
	// (CLOUD_ALERTS_URL).
	Alerts int `json:"alerts_sent,omitempty"`
}

// Handle implements the OpenFaaS go-http handler. It takes no input: any
// body (a cron tick, a wake-up CloudEvent) only triggers a drain of the
// outbox to the configured cloud URL, so it needs no caller credentials.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		return httpkit.ErrorResponse(http.StatusMethodNotAllowed, "method: use POST"), nil
	}
	if f.wake != nil {
		select {
		case f.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
		return httpkit.JSON(http.StatusAccepted, Result{Woken: true}), nil
	}
	res, err := f.drainer.RunOnce(req.Context())
	out := Result{Sent: res.Sent, Batches: res.Batches, Dead: res.Dead, Backlog: res.Backlog, More: res.More, Alerts: res.Alerts}
	switch {
	case errors.Is(err, forward.ErrLocked):
		return httpkit.JSON(http.StatusAccepted, out), nil // another replica is draining
	case err != nil:
		return httpkit.JSON(http.StatusServiceUnavailable, map[string]any{"error": err.Error(), "result": out}), nil
	}
	return httpkit.JSON(http.StatusOK, out), nil
}
