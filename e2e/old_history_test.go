package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// oldTrack is a recorded ride of 2016, years older than any hot retention.
const oldTrack = "../testdata/tracks/strava-ride-los-angeles.gpx"

// TestOldHistoryIsHistory: with an archive tier (S3_ENDPOINT set, so
// ingest keeps old fixes), a GPX of 2016 sent by `geotrack import` and the
// same track sent by `geotrack replay` without --now are stored rather than
// trimmed; the archiver's own schedule (ARCHIVE_INTERVAL, no token, no
// POST) moves them to the archive; and track returns them, every value as
// recorded (heart rate too), followed by the device's recent fixes from
// Redis, in order, once each.
func TestOldHistoryIsHistory(t *testing.T) {
	e := startArchiveEnv(t, 2)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": e.redis.URL, "S3_ENDPOINT": e.minio.Endpoint})
	service := token(t, "acme", auth.RoleService, "")

	f, err := os.Open(oldTrack)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := gpx.Decode(f, "x", 100000)
	f.Close()
	if err != nil || len(recorded) < 100 {
		t.Fatalf("%d fixes, %v", len(recorded), err)
	}

	send := func(command, device string) {
		t.Helper()
		cmd := exec.Command(binary, command, oldTrack, "--device", device, "--url", ingest.URL, "--token", service)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("geotrack %s: %v\n%s", command, err, out)
		}
	}
	send("import", "ride-import")
	send("replay", "ride-replay") // without --now: the recorded timestamps

	// The device's last hour, a fix a minute: the hot tier.
	now := time.Now().UTC().Truncate(time.Second)
	var recent []string
	for i := 60; i > 0; i-- {
		ts := now.Add(-time.Duration(i) * time.Minute)
		recent = append(recent, fmt.Sprintf(`{"device":"ride-import","ts":%q,"lat":34.05,"lon":-118.25}`, ts.Format(time.RFC3339)))
	}
	if r := call(t, http.MethodPost, ingest.URL, service, hdr("Content-Type", "application/json"), []byte("["+strings.Join(recent, ",")+"]")); r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.Status, r.Body)
	}
	for _, device := range []string{"ride-import", "ride-replay"} {
		if n := e.hotCount(t, device, recorded[len(recorded)-1].TS); n != len(recorded) {
			t.Fatalf("%s: %d fixes of 2016 in Redis, want all %d (stored, not trimmed on write)", device, n, len(recorded))
		}
	}

	// The archiver's schedule runs in its process: nothing POSTs to it.
	archiverEnv := map[string]string{"ARCHIVE_INTERVAL": "1s"}
	for k, v := range e.env {
		archiverEnv[k] = v
	}
	startFunction(t, "archiver", archiverEnv)
	err = poll.Until(context.Background(), 60*time.Second, 200*time.Millisecond, func(context.Context) error {
		for _, device := range []string{"ride-import", "ride-replay"} {
			if n := e.hotCount(t, device, recorded[len(recorded)-1].TS); n > 0 {
				return fmt.Errorf("%s: %d fixes of 2016 still in Redis", device, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the scheduled passes did not archive the 2016 fixes: %v", err)
	}
	objects := 0
	for obj := range e.s3.ListObjects(context.Background(), archiveBucket, minio.ListObjectsOptions{Prefix: "tenant=acme/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if !strings.Contains(obj.Key, "/date=2016-") {
			t.Errorf("object %s: not a day of 2016", obj.Key)
		}
		objects++
	}
	if objects == 0 {
		t.Fatal("no archive objects")
	}

	tr := startFunction(t, "track", map[string]string{"REDIS_URL": e.redis.URL, "S3_ENDPOINT": e.minio.Endpoint, "S3_BUCKET": archiveBucket,
		"S3_ACCESS_KEY": e.minio.AccessKey, "S3_SECRET_KEY": e.minio.SecretKey})
	viewer := token(t, "acme", auth.RoleViewer, "")
	for _, tc := range []struct {
		device string
		recent int
	}{{"ride-import", len(recent)}, {"ride-replay", 0}} {
		r := call(t, http.MethodGet, tr.URL+"?device="+tc.device+"&all=true", viewer, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: track %d %s", tc.device, r.Status, r.Body)
		}
		var body struct {
			Points []json.RawMessage `json:"points"`
		}
		r.JSON(t, &body)
		if len(body.Points) != len(recorded)+tc.recent {
			t.Fatalf("%s: %d points, want %d of 2016 and %d recent", tc.device, len(body.Points), len(recorded), tc.recent)
		}
		for i, want := range recorded {
			want.Device = tc.device
			got, err := fix.Decode(body.Points[i], "")
			if err != nil {
				t.Fatalf("%s point %d: %v", tc.device, i, err)
			}
			if g, w := string(got.AppendJSON(nil)), string(want.AppendJSON(nil)); g != w {
				t.Fatalf("%s point %d is\n%s\nwant, as recorded,\n%s", tc.device, i, g, w)
			}
		}
		for i := range tc.recent {
			got, err := fix.Decode(body.Points[len(recorded)+i], "")
			if err != nil || !got.TS.Equal(now.Add(-time.Duration(tc.recent-i)*time.Minute)) {
				t.Fatalf("%s recent point %d: %+v %v", tc.device, i, got, err)
			}
		}
	}
}

// hotCount is how many of device's fixes at or before until Redis holds.
func (e *archiveEnv) hotCount(t *testing.T, device string, until time.Time) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		page, err := e.store.History(context.Background(), "acme", device, time.Time{}, until, redisstore.MaxLimit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Fixes)
		if page.Next == "" {
			return n
		}
		cursor = page.Next
	}
}
