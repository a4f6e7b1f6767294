package functions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestEachProcessExportsItsOwnMetrics builds functions the way `geotrack
// serve` does, each with the registry of its own process, and checks that a
// registry holds the series of the function built into it and no other's.
func TestEachProcessExportsItsOwnMetrics(t *testing.T) {
	rs := testenv.StartRedis(t)
	t.Setenv("REDIS_URL", rs.URL)
	t.Setenv(auth.SecretEnv, "metrics-test-secret-0123456789")
	t.Setenv("EVENT_SINK", "")
	cases := []struct {
		function string
		want     []string // series prefixes the process must export
		not      []string // series prefixes it must not export
	}{
		{"position", nil, []string{"geotrack_edge_", "geotrack_owntracks_", "geotrack_outbox_", "geotrack_forward", "geotrack_ingest_"}},
		{"ingest", []string{"geotrack_ingest_duplicate_conflicts_total", "geotrack_ingest_over_quota_total"}, []string{"geotrack_edge_", "geotrack_owntracks_", "geotrack_outbox_", "geotrack_forward"}},
		{"edge-ingest", []string{"geotrack_edge_received_total", "geotrack_outbox_"}, []string{"geotrack_owntracks_", "geotrack_forward"}},
		// owntracks counts by message type: its series appear with the first message.
		{"owntracks", nil, []string{"geotrack_edge_", "geotrack_forward"}},
		// Issue 9 (h7).
		{"geofence-detect", []string{"geotrack_geofence_fixes_total", "geotrack_geofence_fixes_ignored_total"},
			[]string{"geotrack_edge_", "geotrack_ingest_", "geotrack_outbox_", "geotrack_forward"}},
		{"geofences", nil, []string{"geotrack_geofence_", "geotrack_ingest_"}},
		// Alerts (issue 9 §3): notify delivers webhooks, rules and alerts do not.
		{"notify", []string{"geotrack_webhook_deliveries_total", "geotrack_alerts_total"}, []string{"geotrack_edge_", "geotrack_ingest_", "geotrack_forward", "geotrack_outbox_"}},
		{"rules", nil, []string{"geotrack_webhook_", "geotrack_alerts_", "geotrack_ingest_"}},
		{"alerts", nil, []string{"geotrack_webhook_", "geotrack_alerts_", "geotrack_ingest_"}},
		// movement counts by outcome: its series appear with the first delivery.
		{"movement", nil, []string{"geotrack_edge_", "geotrack_owntracks_", "geotrack_outbox_", "geotrack_forward", "geotrack_ingest_"}},
		{"trips", nil, []string{"geotrack_edge_", "geotrack_movement_", "geotrack_outbox_", "geotrack_forward", "geotrack_ingest_"}},
		{"preferences", nil, []string{"geotrack_edge_", "geotrack_movement_", "geotrack_outbox_", "geotrack_forward", "geotrack_ingest_"}},
		// The dashboard (issue 13) serves files: only the HTTP series of its runtime.
		{"dashboard", nil, []string{"geotrack_edge_", "geotrack_movement_", "geotrack_outbox_", "geotrack_forward", "geotrack_ingest_", "geotrack_geofence_"}},
		{"archiver", []string{"geotrack_archive_points_total", "geotrack_archive_failures_total", "geotrack_archive_lag_seconds"},
			[]string{"geotrack_edge_", "geotrack_ingest_", "geotrack_outbox_", "geotrack_forward", "geotrack_alerts_"}},
		// Issue 12 (h16): every Redis-backed function guards its requests
		// (rate limits) and records its audited ones.
		{"tokens", []string{"geotrack_rate_limited_total", "geotrack_audit_entries_total", "geotrack_audit_dropped_total"},
			[]string{"geotrack_edge_", "geotrack_ingest_", "geotrack_outbox_", "geotrack_forward"}},
		{"audit", []string{"geotrack_rate_limited_total", "geotrack_audit_entries_total"}, []string{"geotrack_edge_", "geotrack_ingest_"}},
		{"track", []string{"geotrack_rate_limited_total", "geotrack_audit_entries_total"}, []string{"geotrack_edge_", "geotrack_ingest_"}},
		// Issue 12 §1 (h20): privacy audits exports and erasures.
		{"privacy", []string{"geotrack_rate_limited_total", "geotrack_audit_entries_total"}, []string{"geotrack_edge_", "geotrack_ingest_", "geotrack_archive_"}},
	}
	for _, tc := range cases {
		t.Run(tc.function, func(t *testing.T) {
			spec, err := functions.Lookup(tc.function)
			if err != nil {
				t.Fatal(err)
			}
			reg := metrics.NewProcessRegistry()
			deps := &functions.Deps{Metrics: reg}
			t.Cleanup(func() { deps.Close() })
			built, err := spec.Build(context.Background(), deps)
			if err != nil {
				t.Fatalf("build %s: %v", tc.function, err)
			}
			if built.Close != nil {
				t.Cleanup(func() { built.Close() })
			}
			var sb strings.Builder
			if _, err := reg.WriteTo(&sb); err != nil {
				t.Fatal(err)
			}
			text := sb.String()
			if !strings.Contains(text, "go_goroutines") {
				t.Errorf("process metrics missing:\n%s", text)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, "# TYPE "+w) {
					t.Errorf("%s does not export %s*", tc.function, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(text, "# TYPE "+n) {
					t.Errorf("%s exports %s*, which belongs to another function", tc.function, n)
				}
			}
		})
	}
}
