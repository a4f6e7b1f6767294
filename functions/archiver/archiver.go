// Package archiver is the function that moves history older than the hot
// retention from Redis to the archive bucket as Parquet: each POST (the
// cron-connector's tick, a CronJob, an operator) runs one pass.
package archiver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
)

// Passer runs one archive pass (archive.Archiver, under a lock).
type Passer interface {
	Pass(ctx context.Context) (archive.Result, error)
}

// Function is the archiver function.
type Function struct {
	passer Passer // nil: no archive tier (S3_ENDPOINT unset)
	auth   httpkit.Verifier
	now    func() time.Time

	points, objects, bytes, failures *metrics.Counter
	lag, lastSuccess                 *metrics.Gauge
}

// New builds archiver; passer nil means no archive tier is configured.
// Its series go into reg (nil: a registry nobody serves).
func New(passer Passer, verifier httpkit.Verifier, reg *metrics.Registry) *Function {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	return &Function{passer: passer, auth: verifier, now: time.Now,
		points:   reg.NewCounter("geotrack_archive_points_total", "History points moved from the hot store to the archive."),
		objects:  reg.NewCounter("geotrack_archive_objects_total", "Archive objects written (one per device and day, rewritten when late points merge in)."),
		bytes:    reg.NewCounter("geotrack_archive_bytes_total", "Bytes of the archive objects written."),
		failures: reg.NewCounter("geotrack_archive_failures_total", "Archive passes that failed (object store or Redis down); the hot data stays and the next pass catches up."),
		lag: reg.NewGauge("geotrack_archive_lag_seconds",
			"Age of the oldest point that was due for the archive but still sat in the hot store after the last pass (0: caught up)."),
		lastSuccess: reg.NewGauge("geotrack_archive_last_success_timestamp_seconds", "Unix time the last pass completed without failure."),
	}
}

// RunPass runs one pass and records it in the metrics: what a POST does,
// for the in-process loop (ARCHIVE_INTERVAL).
func (f *Function) RunPass(ctx context.Context) (archive.Result, error) {
	if f.passer == nil {
		return archive.Result{}, nil
	}
	res, err := f.passer.Pass(ctx)
	f.record(res, err)
	return res, err
}

// record updates the series after a pass.
func (f *Function) record(res archive.Result, err error) {
	f.points.Add(float64(res.Points))
	f.objects.Add(float64(res.Objects))
	f.bytes.Add(float64(res.Bytes))
	now := f.now()
	if !res.OldestDue.IsZero() {
		f.lag.Set(now.Sub(res.OldestDue).Seconds())
	} else if err == nil {
		f.lag.Set(0)
	}
	if err != nil {
		f.failures.Inc()
		return
	}
	f.lastSuccess.Set(float64(now.UnixMilli()) / 1000)
}

// Result is the response body.
type Result struct {
	Enabled bool `json:"enabled"`
	archive.Result
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

// mayArchive: the cron-connector and CronJobs hold a service token;
// operators an admin one. A pass moves every tenant's due history and
// answers only counts.
func mayArchive(p auth.Principal) error {
	if p.Role == auth.RoleService || p.Role == auth.RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not run the archiver (service or admin needed)", auth.ErrForbidden, p.Role)
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	if req.Method != http.MethodPost {
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use POST"}
	}
	query, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	if _, err := httpkit.Authenticate(req.Context(), f.auth, req, query, mayArchive); err != nil {
		return handler.Response{}, err
	}
	for name := range query {
		if name != "token" {
			return handler.Response{}, httpkit.Invalid(name, "unknown parameter (archiver takes none)")
		}
	}
	if f.passer == nil {
		return httpkit.JSON(http.StatusOK, Result{}), nil
	}
	// A pass outlives its request: a client that gives up (a CronJob's
	// deadline) must not stop it between a write and its trim, and the
	// next pass would redo the work.
	res, err := f.RunPass(context.WithoutCancel(req.Context()))
	if err != nil {
		return handler.Response{}, fmt.Errorf("archive pass (%d points moved before the failure): %w", res.Points, err)
	}
	return httpkit.JSON(http.StatusOK, Result{Enabled: true, Result: res}), nil
}
