package functions_test

import (
	"slices"
	"testing"
	"time"

	"github.com/geotrack/geotrack/functions"
)

// TestArchiverSchedulesItself: the deployed archiver runs its scheduled
// passes in its own process (a cron-connector or PingSource tick carries no
// token and would get 401), so stack.yml gives it a positive
// ARCHIVE_INTERVAL, one replica that never scales to zero, and no cron
// topic; the pack has no Schedule, so the chart renders no CronJob or
// PingSource for it. track and trips read the same archive: they have the
// archiver's S3 variables and secrets.
func TestArchiverSchedulesItself(t *testing.T) {
	s := loadStack(t)
	fn, ok := s.Functions["archiver"]
	if !ok {
		t.Fatal("no archiver in stack.yml")
	}
	if d, err := time.ParseDuration(fn.Environment["ARCHIVE_INTERVAL"]); err != nil || d <= 0 {
		t.Errorf("ARCHIVE_INTERVAL %q: want a positive duration (%v)", fn.Environment["ARCHIVE_INTERVAL"], err)
	}
	if fn.Labels["com.openfaas.scale.min"] != "1" || fn.Labels["com.openfaas.scale.zero"] == "true" {
		t.Errorf("labels %v: want one replica always up", fn.Labels)
	}
	if topic, sched := fn.Annotations["topic"], fn.Annotations["schedule"]; topic != "" || sched != "" {
		t.Errorf("topic %q schedule %q: a cron tick carries no token", topic, sched)
	}
	for _, spec := range functions.Pack() {
		if spec.Name == "archiver" && spec.Schedule != "" {
			t.Errorf("Spec.Schedule %q: the chart would render a CronJob or PingSource", spec.Schedule)
		}
	}
	for _, reader := range []string{"track", "trips"} {
		r := s.Functions[reader]
		for _, v := range []string{"S3_ENDPOINT", "S3_BUCKET", "S3_REGION", "S3_PREFIX", "ARCHIVE_SSE"} {
			if r.Environment[v] != fn.Environment[v] {
				t.Errorf("%s: %s %q, the archiver has %q", reader, v, r.Environment[v], fn.Environment[v])
			}
		}
		for _, secret := range []string{"s3-access-key", "s3-secret-key"} {
			if !slices.Contains(r.Secrets, secret) {
				t.Errorf("%s: no secret %s", reader, secret)
			}
		}
	}
}
