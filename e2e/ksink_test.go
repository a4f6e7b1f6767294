package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestIngestEmitsToKSink: with K_SINK set (as a Knative SinkBinding does),
// ingest posts io.geotrack.location.updated in binary mode, retrying a
// failing sink, with the tenant extension and the caller's traceparent.
func TestIngestEmitsToKSink(t *testing.T) {
	type received struct {
		header http.Header
		body   []byte
	}
	got := make(chan received, 4)
	var calls atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the broker is briefly unavailable
			return
		}
		got <- received{r.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	rs := testenv.StartRedis(t)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "K_SINK": sink.URL})
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	r := call(t, http.MethodPost, ingest.URL, token(t, "acme", auth.RoleService, ""),
		hdr("Content-Type", "application/json", "traceparent", tp),
		[]byte("["+fixJSON("ks-1", 0, 51.5, -0.1)+","+fixJSON("ks-1", 1, 51.5001, -0.1)+"]"))
	if r.Status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.Status, r.Body)
	}
	select {
	case ev := <-got:
		h := ev.header
		if h.Get("Ce-Type") != "io.geotrack.location.updated" || h.Get("Ce-Specversion") != "1.0" || h.Get("Ce-Id") == "" ||
			h.Get("Ce-Source") != "urn:geotrack:ingest" || h.Get("Ce-Subject") != "ks-1" || h.Get("Ce-Tenant") != "acme" {
			t.Fatalf("binary-mode headers: %v", h)
		}
		if h.Get("Ce-Traceparent") != tp && h.Get("traceparent") != tp {
			t.Fatalf("traceparent not propagated: %v", h)
		}
		var fixes []point
		if err := json.Unmarshal(ev.body, &fixes); err != nil || len(fixes) != 2 || fixes[0].Device != "ks-1" {
			t.Fatalf("data %s: %v", ev.body, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event reached K_SINK (%d calls)", calls.Load())
	}
	if calls.Load() < 2 {
		t.Fatalf("the failing first delivery was not retried")
	}
}
