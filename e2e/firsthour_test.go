package e2e

// What a new user meets in the first hour: errors that say what to do,
// client mistakes logged as such, accepted counts that match what is kept.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestClientMistakes: each mistake gets a 4xx whose message says what to do,
// and the function logs it at info with the reason, never at error.
func TestClientMistakes(t *testing.T) {
	rs := testenv.StartRedis(t)
	env := map[string]string{"REDIS_URL": rs.URL, "LOG_LEVEL": "info"}
	ingest := startFunction(t, "ingest", env)
	track := startFunction(t, "track", env)
	osmand := startFunction(t, "osmand", env)
	viewer := token(t, "acme", auth.RoleViewer, "")

	cases := []struct {
		name   string
		method string
		url    string
		tok    string
		header http.Header
		body   string
		status int
		says   []string
	}{
		{"viewer posts to ingest", http.MethodPost, ingest.URL, viewer, hdr("Content-Type", "application/json"),
			fixJSON("van-1", 0, 48.85, 2.35), 403, []string{"role viewer", "device, service or admin"}},
		{"track from=yesterday", http.MethodGet, track.URL + "?device=van-1&from=yesterday", viewer, nil,
			"", 400, []string{"from:", "RFC 3339", "unix seconds"}},
		{"osmand without a token", http.MethodGet, osmand.URL + "?id=van-1&lat=48.85&lon=2.35", "", nil,
			"", 401, []string{"?token="}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, tc.url, tc.tok, tc.header, []byte(tc.body))
			var e struct{ Error string }
			r.JSON(t, &e)
			if r.Status != tc.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(e.Error, s) {
					t.Errorf("error %q does not say %q", e.Error, s)
				}
			}
		})
	}

	ingest.stop(t) // the logs are complete once the process is gone
	var forbidden []map[string]any
	for _, rec := range logRecords(t, ingest) {
		if rec["level"] == "ERROR" {
			t.Errorf("a client mistake was logged at ERROR: %v", rec)
		}
		if rec["msg"] == "request" && rec["status"] == float64(403) {
			forbidden = append(forbidden, rec)
		}
	}
	if len(forbidden) != 1 || forbidden[0]["level"] != "INFO" || !strings.Contains(fmt.Sprint(forbidden[0]["error"]), "role viewer") {
		t.Fatalf("access log of the 403 = %v, want one INFO line with the reason", forbidden)
	}
}

// TestIngestCountsTooOld: a fix older than the hot retention is not kept,
// so it is not counted as accepted but as too_old, with a hint; accepted
// matches the fixes the track then returns.
func TestIngestCountsTooOld(t *testing.T) {
	rs := testenv.StartRedis(t)
	c := startCloud(t, rs.URL)
	svc := token(t, "acme", auth.RoleService, "")
	viewer := token(t, "acme", auth.RoleViewer, "")
	old := -30 * 24 * 3600 // 30 days before base; retention is 7 days
	batch := fmt.Sprintf("[%s,%s,%s]", fixJSON("van-7", 0, 48.85, 2.35), fixJSON("van-7", old, 48.80, 2.30), fixJSON("van-7", 60, 48.86, 2.36))

	type reply struct {
		Accepted   int    `json:"accepted"`
		Duplicates int    `json:"duplicates"`
		TooOld     int    `json:"too_old"`
		Hint       string `json:"hint"`
	}
	for _, want := range []reply{{Accepted: 2, TooOld: 1}, {Duplicates: 2, TooOld: 1}} {
		r := call(t, http.MethodPost, c.ingest.URL, svc, hdr("Content-Type", "application/json"), []byte(batch))
		var got reply
		r.JSON(t, &got)
		if r.Status != http.StatusAccepted || got.Accepted != want.Accepted || got.Duplicates != want.Duplicates ||
			got.TooOld != want.TooOld || !strings.Contains(got.Hint, "retention") {
			t.Fatalf("ingest = %d %s, want 202 accepted %d duplicates %d too_old %d with a hint",
				r.Status, r.Body, want.Accepted, want.Duplicates, want.TooOld)
		}
	}
	page := getTrack(t, c, viewer, fmt.Sprintf("device=van-7&from=%d", base.Add(-60*24*time.Hour).Unix()))
	if len(page.Points) != 2 || page.Points[0].TS != tsMS(0) || page.Points[1].TS != tsMS(60) {
		t.Fatalf("track = %+v, want the 2 accepted fixes", page.Points)
	}
	var latest point
	r := call(t, http.MethodGet, c.position.URL+"?device=van-7", viewer, nil, nil)
	r.JSON(t, &latest)
	if r.Status != http.StatusOK || latest.TS != tsMS(60) {
		t.Fatalf("position = %d %s, want the newest accepted fix", r.Status, r.Body)
	}
}

// TestDevRunner: `geotrack dev` answers unknown paths with a JSON 404 and
// stops at once on SIGTERM (no shutdown delay on a laptop), logging its
// timeout readably.
func TestDevRunner(t *testing.T) {
	rs := testenv.StartRedis(t)
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(binary, "dev", "--addr", addr)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "REDIS_URL="+rs.URL, "GEOTRACK_JWT_SECRET="+testSecret, "SECRETS_DIR="+t.TempDir(),
		"LOG_LEVEL=info", "LOG_FORMAT=json")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("dev logs:\n%s", tail(logs.String(), 3000))
		}
	})
	testenv.WaitHTTP(t, "http://"+addr+"/_/ready", 15*time.Second)

	for _, path := range []string{"/nope", "/function/nope", "/functions/ingest"} {
		r := call(t, http.MethodGet, "http://"+addr+path, "", nil, nil)
		var e struct{ Error string }
		if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != http.StatusNotFound ||
			r.Header.Get("Content-Type") != "application/json" || !strings.Contains(e.Error, path) || !strings.Contains(e.Error, "/function/<name>") {
			t.Errorf("GET %s = %d %s %q, want a JSON 404 naming the path and where functions are", path, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("geotrack dev did not exit after SIGTERM")
	}
	var delayed, drained bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec["msg"] {
		case "shutting down: not ready, still serving until endpoints forget this instance":
			delayed = true
		case "shutting down: stopped accepting, draining in-flight requests":
			drained = true
			if rec["timeout"] != "10s" {
				t.Errorf("shutdown log timeout = %v, want \"10s\"", rec["timeout"])
			}
		}
	}
	if delayed || !drained {
		t.Fatalf("dev shutdown: delayed=%v drained=%v, want no delay and a drain", delayed, drained)
	}
}
