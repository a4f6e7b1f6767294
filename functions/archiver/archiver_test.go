package archiver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/archiver"
	"github.com/geotrack/geotrack/internal/archive"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/metrics"
)

// fakePasser counts passes; it fails while broken.
type fakePasser struct {
	passes int
	broken bool
}

var cutoff = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func (p *fakePasser) Pass(context.Context) (archive.Result, error) {
	p.passes++
	if p.broken {
		return archive.Result{Cutoff: cutoff, Points: 10, OldestDue: cutoff.Add(-time.Hour)}, errors.New("write tenant=acme/...: connection refused")
	}
	return archive.Result{Cutoff: cutoff, Tenants: 1, Devices: 2, Points: 1000, Objects: 3, Bytes: 4000}, nil
}

func post(query, token string) handler.Request {
	return ht.Request(http.MethodPost, query, token, nil, `{"cron":"tick"}`)
}

func TestHandle(t *testing.T) {
	p := &fakePasser{}
	reg := metrics.NewRegistry()
	f := archiver.New(p, ht.Verifier{}, reg)
	cases := []ht.Case{
		ht.Row("service token runs a pass", post("", ht.ServiceToken), ht.Status(http.StatusOK),
			ht.JSON("enabled", true), ht.JSON("points", 1000), ht.JSON("objects", 3), ht.JSON("bytes", 4000),
			ht.JSON("cutoff", "2026-11-27T00:00:00Z")),
		ht.Row("admin token runs a pass", post("", ht.AdminToken), ht.Status(http.StatusOK), ht.JSON("devices", 2)),
		ht.Row("token in the query", post("token="+ht.AdminToken, ""), ht.Status(http.StatusOK)),
		ht.Row("viewer is forbidden", post("", ht.ViewerToken), ht.Status(http.StatusForbidden), ht.Error("service or admin")),
		ht.Row("device is forbidden", post("", ht.DeviceToken), ht.Status(http.StatusForbidden)),
		ht.Row("GET is refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
		ht.Row("unknown parameter", post("tenant=other", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("tenant")),
		ht.Row("bad query", post("a=%zz", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("query")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return post("", token) })...)
	ht.Run(t, f, cases)
	if p.passes != 3 {
		t.Fatalf("%d passes ran, want 3 (refused requests run none)", p.passes)
	}
	var out strings.Builder
	reg.WriteTo(&out)
	for _, want := range []string{"geotrack_archive_points_total 3000", "geotrack_archive_objects_total 9", "geotrack_archive_lag_seconds 0", "geotrack_archive_failures_total 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}

	p.broken = true
	ht.Run(t, f, []ht.Case{ht.Row("failing pass is a 5xx", post("", ht.ServiceToken), ht.Status(http.StatusInternalServerError))})
	out.Reset()
	reg.WriteTo(&out)
	for _, want := range []string{"geotrack_archive_failures_total 1", "geotrack_archive_points_total 3010"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "geotrack_archive_lag_seconds 0\n") {
		t.Errorf("lag not set after a failed pass:\n%s", out.String())
	}
}

func TestHandleWithoutArchiveTier(t *testing.T) {
	f := archiver.New(nil, ht.Verifier{}, nil)
	ht.Run(t, f, []ht.Case{
		ht.Row("pass is a no-op", post("", ht.ServiceToken), ht.Status(http.StatusOK), ht.JSON("enabled", false), ht.JSON("points", 0)),
		ht.Row("still guarded", post("", ht.ViewerToken), ht.Status(http.StatusForbidden)),
	})
}
