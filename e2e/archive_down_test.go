package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
)

// TestArchiveDownReadsAnswer503 (issue 12): with history archived to
// MinIO and MinIO then stopped (by PID), the reads that need the archive
// — track all=true or an old range, trips over it, a privacy export —
// answer 503 with Retry-After naming the archive, not a 500; a track or
// trips read of a range starting today (which no pass has moved) still
// answers 200.
func TestArchiveDownReadsAnswer503(t *testing.T) {
	e := startArchiveEnv(t, 1)
	now := time.Now().UTC()
	fixes := archiveFixes(1, 4, 48, now) // truck:00, 4 days: 2 archived
	e.load(t, fixes, now)
	arch := startFunction(t, "archiver", e.env)
	if status, res := runPass(t, arch, token(t, "acme", auth.RoleService, "")); status != http.StatusOK || res.Objects == 0 {
		t.Fatalf("archiver pass: %d %+v", status, res)
	}
	track := startFunction(t, "track", e.env)
	trips := startFunction(t, "trips", e.env)
	privacy := startFunction(t, "privacy", e.env)
	viewer := token(t, "acme", auth.RoleViewer, "")
	admin := token(t, "acme", auth.RoleAdmin, "")
	device := url.QueryEscape("truck:00")
	cutoff := archiveCutoff(now)
	old := "&from=" + url.QueryEscape(now.Add(-96*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(cutoff.Add(-time.Hour).Format(time.RFC3339))
	// A range starting today (UTC, 10 minutes ahead for clock skew) is
	// answered from the hot store alone while the archive is down; one fix
	// in it, whatever the time of day.
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if now.Add(11 * time.Minute).After(today.Add(24 * time.Hour)) {
		today = today.Add(24 * time.Hour)
	}
	e.load(t, map[string][]fix.Fix{"truck:00": {{Device: "truck:00", TS: today.Add(time.Minute), Lat: 52.5, Lon: 13.4}}}, now)
	recent := "&from=" + url.QueryEscape(today.Format(time.RFC3339))

	// With MinIO up, every read answers, the old range from the archive.
	if r := call(t, http.MethodGet, track.URL+"/?device="+device+old, viewer, nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"lat"`) {
		t.Fatalf("track of the archived range with MinIO up: %d %s", r.Status, clipBody(r.Body))
	}

	e.minio.Stop()
	reads := []struct {
		name, url, tok string
	}{
		{"track all=true", track.URL + "/?all=true&device=" + device, viewer},
		{"track of an old range", track.URL + "/?device=" + device + old, viewer},
		{"trips over an old range", trips.URL + "/?device=" + device + old, viewer},
		{"privacy export", privacy.URL + "/?format=zip&device=" + device, admin},
	}
	for _, rd := range reads {
		r := call(t, http.MethodGet, rd.url, rd.tok, nil, nil)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "archive unavailable") {
			t.Errorf("%s with MinIO stopped: %d Retry-After %q %s; want 503 with Retry-After, \"archive unavailable\"",
				rd.name, r.Status, r.Header.Get("Retry-After"), clipBody(r.Body))
		}
	}
	// A range starting today answers without the archive.
	if r := call(t, http.MethodGet, track.URL+"/?device="+device+recent, viewer, nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"lat"`) {
		t.Errorf("track of today with MinIO stopped: %d %s, want 200 with points", r.Status, clipBody(r.Body))
	}
	if r := call(t, http.MethodGet, trips.URL+"/?device="+device+recent, viewer, nil, nil); r.Status != http.StatusOK {
		t.Errorf("trips of today with MinIO stopped: %d %s, want 200", r.Status, clipBody(r.Body))
	}
}
