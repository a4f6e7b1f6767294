package edgeingest_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	edgeingest "github.com/geotrack/geotrack/functions/edge-ingest"
	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/intake"
)

// TestConfig: edge-ingest's own code is its environment, part of the public
// contract: the variable names, their defaults, and a clear error naming a
// bad one. Its handler is ingest's (functions/ingest tests it with fakes).
func TestConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c edgeingest.Config)
		wantErr string
	}{
		{"defaults", nil, func(t *testing.T, c edgeingest.Config) {
			if c.RedisURL != "redis://127.0.0.1:6379/0" || c.NodeID != "edge" || c.HistoryRetention != 168*time.Hour ||
				c.OutboxMaxLen != 1_000_000 || c.RawRetention != 24*time.Hour || c.FlushInterval != 5*time.Second ||
				c.IdleAfter != 0 || c.FilterSettings != "" || c.EventSink != "" {
				t.Errorf("defaults = %+v", c)
			}
		}, ""},
		{"from the environment", map[string]string{
			"REDIS_URL": "redis://edge-redis:6379/1", "EDGE_NODE_ID": "site-7", "HISTORY_RETENTION": "72h",
			"OUTBOX_MAX_LEN": "5000", "RAW_RETENTION": "1h", "EDGE_FILTER_SETTINGS": `{"window_s":30}`,
			"EDGE_FLUSH_INTERVAL": "2s", "EDGE_IDLE_AFTER": "1m", "EVENT_SINK": "http://forwarder:8080",
		}, func(t *testing.T, c edgeingest.Config) {
			if c.RedisURL != "redis://edge-redis:6379/1" || c.NodeID != "site-7" || c.HistoryRetention != 72*time.Hour ||
				c.OutboxMaxLen != 5000 || c.RawRetention != time.Hour || c.FilterSettings != `{"window_s":30}` ||
				c.FlushInterval != 2*time.Second || c.IdleAfter != time.Minute || c.EventSink != "http://forwarder:8080" {
				t.Errorf("config = %+v", c)
			}
		}, ""},
		{"bad duration", map[string]string{"EDGE_FLUSH_INTERVAL": "soon"}, nil, "EDGE_FLUSH_INTERVAL"},
		{"bad number", map[string]string{"OUTBOX_MAX_LEN": "lots"}, nil, "OUTBOX_MAX_LEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"REDIS_URL", "EDGE_NODE_ID", "HISTORY_RETENTION", "OUTBOX_MAX_LEN", "RAW_RETENTION",
				"EDGE_FILTER_SETTINGS", "EDGE_DEVICE_SETTINGS", "EDGE_FLUSH_INTERVAL", "EDGE_IDLE_AFTER", "EVENT_SINK", "K_SINK"} {
				t.Setenv(k, "") // restored after the test
				if v, ok := tc.env[k]; ok {
					os.Setenv(k, v)
				} else {
					os.Unsetenv(k) // set but empty would override the default
				}
			}
			var c edgeingest.Config
			err := config.Load(&c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// edgeIngester answers as the edge pipeline does: some fixes dropped by the
// filters (by reason), some queued for the cloud.
type edgeIngester struct{ devices []string }

func (e *edgeIngester) Ingest(_ context.Context, p auth.Principal, envs []events.Envelope, device string) (intake.Summary, error) {
	e.devices = append(e.devices, p.Tenant+"/"+envs[0].Subject)
	return intake.Summary{Accepted: 1, Dropped: map[string]int{"jitter": 2, "speed": 1}, Forwarded: 3}, nil
}

// TestHandleEncodesEdgeSummary: edge-ingest serves ingest's handler over the
// edge pipeline (functions/wire_edge.go); its reply carries the edge-only
// fields, what the filters dropped and what was queued for the cloud.
func TestHandleEncodesEdgeSummary(t *testing.T) {
	in := &edgeIngester{}
	fn := ingest.New(in, ht.Verifier{})
	resp, err := fn.Handle(ht.Request(http.MethodPost, "", ht.ServiceToken, http.Header{
		"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"e1"}, "Ce-Source": {"urn:test"},
		"Ce-Type": {events.TypeLocationReported}, "Ce-Subject": {"d1"},
	}, `{"ts":"2026-11-29T12:00:00Z","lat":51.5,"lon":-0.12}`))
	if err != nil {
		t.Fatal(err)
	}
	ht.Check(t, resp, ht.Status(http.StatusAccepted), ht.JSON("accepted", 1), ht.JSON("forwarded", 3),
		ht.JSON("dropped", map[string]int{"jitter": 2, "speed": 1}))
	if len(in.devices) != 1 || in.devices[0] != ht.Tenant+"/d1" {
		t.Errorf("ingester got %v, want [%s/d1]", in.devices, ht.Tenant)
	}
}
