package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// startDev runs `geotrack dev` on a free port against the Redis at url.
// startDev runs `geotrack dev` on a free port against redisURL (extra
// variables in env, e.g. "LOG_LEVEL=info") and returns its base URL; the
// one launcher of the dev runner in e2e.
func startDev(t *testing.T, redisURL string, env ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(binary, "dev", "--addr", addr)
	cmd.Dir = t.TempDir()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "REDIS_URL="+redisURL, "GEOTRACK_JWT_SECRET="+testSecret, "SECRETS_DIR="+t.TempDir(), "LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("geotrack dev:\n%s", tail(logs.String(), 3000))
		}
	})
	testenv.WaitHTTP(t, "http://"+addr+"/_/ready", 20*time.Second)
	return "http://" + addr
}

// TestMovementLiveAgreesWithTripsReport: a scripted vehicle's day goes into
// ingest a minute of fixes at a time; `geotrack dev` routes each
// location.updated (through the outbox) to movement, whose trip and stop
// events land in the tenant's event log and outbox; the trips report over
// the stored history lists exactly the trips and stops that ended live.
func TestMovementLiveAgreesWithTripsReport(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	base := startDev(t, rs.URL)
	ctx := context.Background()

	sim := fleet.Simulate(77, "van-1", 2*time.Second, true, []fleet.Segment{
		{Park: 8 * time.Minute}, {DriveM: 3000, Speed: 14}, {Park: 7 * time.Minute},
		{DriveM: 2200, Speed: 11}, {Park: 6 * time.Minute},
	})
	// Shift the day to the last hours, inside the hot retention.
	shift := time.Now().Add(-3 * time.Hour).Truncate(time.Second).Sub(sim.Fixes[0].TS)
	svc := token(t, "acme", auth.RoleService, "")
	for i := 0; i < len(sim.Fixes); i += 30 {
		batch := sim.Fixes[i:min(i+30, len(sim.Fixes))]
		body := []byte{'['}
		for j, f := range batch {
			f.TS = f.TS.Add(shift)
			if j > 0 {
				body = append(body, ',')
			}
			body = f.AppendJSON(body)
		}
		body = append(body, ']')
		r := call(t, http.MethodPost, base+"/function/ingest", svc, hdr("Content-Type", "application/json"), body)
		if r.Status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
		// dev delivers events concurrently: wait for movement to have the
		// batch before the next, as one connector delivery after another.
		last := batch[len(batch)-1].TS.Add(shift).UnixMilli()
		testenv.Eventually(t, "movement saw the batch", 10*time.Second, func() bool {
			raw, err := rc.Get(ctx, redisstore.MovementStateKey("gt", "acme", "van-1")).Bytes()
			if err != nil {
				return false
			}
			var s struct {
				Last struct {
					TS int64 `json:"t"`
				} `json:"l"`
			}
			return json.Unmarshal(raw, &s) == nil && s.Last.TS == last
		})
	}

	msgs, err := rc.XRange(ctx, redisstore.EventLogKey("gt", "acme"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var liveTrips []movement.TripJSON
	var liveStops []movement.StopJSON
	counts := map[string]int{}
	for _, m := range msgs {
		var ce struct {
			Type, Subject, ID string
			Data              json.RawMessage
		}
		if err := json.Unmarshal([]byte(m.Values["ce"].(string)), &ce); err != nil {
			t.Fatal(err)
		}
		counts[ce.Type]++
		switch ce.Type {
		case eventtype.TripEnded:
			var tr movement.TripJSON
			json.Unmarshal(ce.Data, &tr)
			liveTrips = append(liveTrips, tr)
		case eventtype.StopEnded:
			var st movement.StopJSON
			json.Unmarshal(ce.Data, &st)
			liveStops = append(liveStops, st)
		}
	}
	want := map[string]int{eventtype.StopStarted: 3, eventtype.StopEnded: 2, eventtype.TripStarted: 2, eventtype.TripEnded: 2}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("event log %v, want %v", counts, want)
	}
	for i, tr := range liveTrips {
		if d := tr.DistanceM - sim.Drives[i].DistM; d > 0.01*sim.Drives[i].DistM || d < -0.01*sim.Drives[i].DistM {
			t.Errorf("trip %d: %.1f m, want %.1f ± 1 %%", i, tr.DistanceM, sim.Drives[i].DistM)
		}
	}

	viewer := token(t, "acme", auth.RoleViewer, "")
	r := call(t, http.MethodGet, base+"/function/trips?device=van-1", viewer, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("trips: %d %s", r.Status, r.Body)
	}
	var rep movement.Report
	r.JSON(t, &rep)
	if !reflect.DeepEqual(rep.Trips, liveTrips) || !reflect.DeepEqual(rep.Stops, liveStops) {
		t.Errorf("report\n%+v\n%+v\nlive\n%+v\n%+v", rep.Trips, rep.Stops, liveTrips, liveStops)
	}
	if rep.Summary.Trips != 2 || rep.OngoingStop == nil || rep.Fixes != len(sim.Fixes) {
		t.Errorf("summary %+v ongoing stop %v fixes %d (sent %d)", rep.Summary, rep.OngoingStop, rep.Fixes, len(sim.Fixes))
	}

	// The events went through the outbox and the relay delivered them.
	testenv.Eventually(t, "outbox drained", 10*time.Second, func() bool { return outboxDepth(t, rc, "acme") == 0 })
	if d := metric(t, base, "geotrack_events_delivered_total"); d < float64(len(sim.Fixes)/30+len(msgs)) {
		t.Errorf("geotrack_events_delivered_total = %g, want at least %d", d, len(sim.Fixes)/30+len(msgs))
	}
}
