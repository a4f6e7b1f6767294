package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

const (
	outboxKey  = "gt:{edge}:outbox"
	pendingKey = "gt:{edge}:fpending"
)

// edgeSite is an edge node: its own Redis (AOF on) and edge functions.
type edgeSite struct {
	redis                                   *testenv.Redis
	client                                  redis.UniversalClient
	ingest, owntracks, osmand, position, tr *proc
	forwarderEnv                            map[string]string
}

func startEdge(t *testing.T, cloudIngestURL, tenant string) *edgeSite {
	t.Helper()
	rs := testenv.StartRedis(t, testenv.WithAppendOnly())
	env := map[string]string{
		"REDIS_URL": rs.URL, "EDGE_NODE_ID": "site-1", "EDGE_MODE": "true",
		"EDGE_IDLE_AFTER": "2s", "EDGE_FLUSH_INTERVAL": "300ms",
		// The recorded tracks are from 2016: keep them in hot history.
		"HISTORY_RETENTION": "200000h",
	}
	e := &edgeSite{redis: rs}
	e.ingest = startFunction(t, "edge-ingest", env)
	e.owntracks = startFunction(t, "owntracks", env)
	e.osmand = startFunction(t, "osmand", env)
	e.position = startFunction(t, "position", env)
	e.tr = startFunction(t, "track", env)
	e.forwarderEnv = map[string]string{
		"REDIS_URL": rs.URL, "EDGE_NODE_ID": "site-1", "CLOUD_INGEST_URL": cloudIngestURL,
		"EDGE_SERVICE_TOKEN": token(t, tenant, auth.RoleService, ""),
		"FORWARD_INTERVAL":   "300ms", "FORWARD_BATCH_SIZE": "20", "FORWARD_MAX_BACKOFF": "1s",
		// Paced so that the test can SIGKILL the forwarder mid-drain.
		"FORWARD_RATE": "100",
	}
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	e.client = client
	return e
}

// device is a simulated device sending one protocol.
type device struct {
	id, protocol string
	fixes        []fix.Fix
	next         int
}

// send delivers the next n fixes through the device's protocol, retrying
// 5xx and connection errors the way a device app does.
func (d *device) send(t *testing.T, e *edgeSite, tok string, n int) {
	t.Helper()
	for k := 0; k < n && d.next < len(d.fixes); k++ {
		f := d.fixes[d.next]
		d.next++
		var method, target string
		var h http.Header
		var body []byte
		switch d.protocol {
		case "owntracks":
			user, dev, _ := strings.Cut(d.id, ":")
			method, target = http.MethodPost, e.owntracks.URL+"?u="+user+"&d="+dev
			h = hdr("Content-Type", "application/json",
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+tok)))
			body = []byte(fmt.Sprintf(`{"_type":"location","lat":%v,"lon":%v,"tst":%d,"acc":%v,"vel":%v,"batt":80,"tid":"ph"}`,
				f.Lat, f.Lon, f.TS.Unix(), *f.Acc, *f.Speed*3.6))
		case "osmand":
			q := url.Values{"id": {d.id}, "lat": {fmt.Sprint(f.Lat)}, "lon": {fmt.Sprint(f.Lon)},
				"timestamp": {strconv.FormatInt(f.TS.Unix(), 10)}, "speed": {fmt.Sprint(*f.Speed / 0.514444)},
				"accuracy": {fmt.Sprint(*f.Acc)}, "token": {tok}}
			method, target = http.MethodGet, e.osmand.URL+"?"+q.Encode()
		default:
			ce := map[string]any{"specversion": "1.0", "id": fmt.Sprintf("%s-%d", d.id, d.next), "source": "urn:device:" + d.id,
				"type": "io.geotrack.location.reported", "subject": d.id, "data": f}
			body, _ = json.Marshal(ce)
			method, target = http.MethodPost, e.ingest.URL
			h = hdr("Content-Type", "application/cloudevents+json", "Authorization", "Bearer "+tok)
		}
		deliver(t, method, target, h, body)
	}
}

func deliver(t *testing.T, method, target string, h http.Header, body []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(method, target, strings.NewReader(string(body)))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			if resp.StatusCode < 500 {
				t.Fatalf("%s %s: %s", method, target, resp.Status)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: still failing after 30s: %v", method, target, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// history reads a device's whole history through a track function.
func history(t *testing.T, trackURL, tok, dev string) []json.RawMessage {
	t.Helper()
	var all []json.RawMessage
	q := url.Values{"device": {dev}, "limit": {"500"}}
	for i := 0; i < 100; i++ {
		r := call(t, http.MethodGet, trackURL+"?"+q.Encode(), tok, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("track: %d %s", r.Status, r.Body)
		}
		var page struct {
			Points []json.RawMessage `json:"points"`
			Next   string            `json:"next"`
		}
		r.JSON(t, &page)
		all = append(all, page.Points...)
		if page.Next == "" {
			return all
		}
		q.Set("cursor", page.Next)
	}
	t.Fatal("pagination did not end")
	return nil
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, what, timeout, cond)
}

// TestEdgeOutage: devices keep reporting through OwnTracks, OsmAnd and
// CloudEvents while the cloud is unreachable for over a minute; the edge
// answers queries throughout; its Redis restarts (the outbox survives on
// AOF); once the cloud is back the forwarder is SIGKILLed mid-drain and
// restarted; finally the cloud's history equals the edge's kept fixes.
func TestEdgeOutage(t *testing.T) {
	const tenant = "acme"
	cloudRedis := testenv.StartRedis(t)
	cloudEnv := map[string]string{"REDIS_URL": cloudRedis.URL}
	cloudIngest := startFunction(t, "ingest", cloudEnv)
	cloudTrack := startFunction(t, "track", cloudEnv)
	e := startEdge(t, cloudIngest.URL, tenant)
	viewer := token(t, tenant, auth.RoleViewer, "")

	// The cloud goes away before the devices start.
	cloudIngest.stop(t)
	forwarder := startFunction(t, "forwarder", e.forwarderEnv)

	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	devices := []*device{
		{id: "alice:phone", protocol: "owntracks"},
		{id: "osm-7", protocol: "osmand"},
		{id: "ce-3", protocol: "cloudevents"},
	}
	for i, d := range devices {
		track := fleet.Track(uint64(i+1), 40*time.Minute)
		for j := range track {
			track[j].Device = d.id
			track[j].TS = base.Add(time.Duration(j) * time.Second)
		}
		d.fixes = track
	}
	tokens := map[string]string{}
	for _, d := range devices {
		tokens[d.id] = token(t, tenant, auth.RoleDevice, d.id)
	}

	ctx := context.Background()
	outageStart := time.Now()
	restarted := false
	for tick := 0; time.Since(outageStart) < 62*time.Second; tick++ {
		for _, d := range devices {
			d.send(t, e, tokens[d.id], 10)
		}
		// Local continuity: the edge answers from its own data.
		for _, d := range devices {
			if r := call(t, http.MethodGet, e.position.URL+"?device="+url.QueryEscape(d.id), viewer, nil, nil); r.Status != http.StatusOK {
				t.Fatalf("edge position of %s during outage: %d %s", d.id, r.Status, r.Body)
			}
		}
		if !restarted && time.Since(outageStart) > 30*time.Second {
			restarted = true
			before := e.client.XLen(ctx, outboxKey).Val()
			if before == 0 {
				t.Fatal("outbox empty during the outage")
			}
			e.redis.Restart(t)
			waitFor(t, "edge redis back", 10*time.Second, func() bool { return e.client.Ping(ctx).Err() == nil })
			if after := e.client.XLen(ctx, outboxKey).Val(); after != before {
				t.Fatalf("outbox had %d entries before the edge Redis restart, %d after", before, after)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !restarted {
		t.Fatal("edge redis was never restarted")
	}
	backlog := e.client.XLen(ctx, outboxKey).Val()
	t.Logf("outage lasted %s; outbox backlog %d", time.Since(outageStart).Round(time.Second), backlog)

	// The cloud comes back where the forwarder expects it.
	cloudIngest = startFunction(t, "ingest", map[string]string{"REDIS_URL": cloudRedis.URL, "PORT": strconv.Itoa(cloudIngest.Port)})
	// Kill the forwarder once it has delivered some but not all batches.
	waitFor(t, "first batches to reach the cloud", 30*time.Second, func() bool {
		n := e.client.XLen(ctx, outboxKey).Val()
		return n < backlog
	})
	if e.client.XLen(ctx, outboxKey).Val() == 0 {
		t.Fatal("the forwarder drained everything before it could be killed mid-drain")
	}
	forwarder.kill()
	t.Logf("forwarder SIGKILLed with %d of %d entries left", e.client.XLen(ctx, outboxKey).Val(), backlog)
	startFunction(t, "forwarder", e.forwarderEnv)

	waitFor(t, "edge windows flushed and outbox drained", 60*time.Second, func() bool {
		return e.client.ZCard(ctx, pendingKey).Val() == 0 && e.client.XLen(ctx, outboxKey).Val() == 0
	})

	totalRaw, totalKept := 0, 0
	for _, d := range devices {
		edgeHist := history(t, e.tr.URL, viewer, d.id)
		cloudHist := history(t, cloudTrack.URL, viewer, d.id)
		totalRaw += d.next
		totalKept += len(edgeHist)
		if len(edgeHist) == 0 || len(edgeHist) >= d.next {
			t.Errorf("%s: edge kept %d of %d fixes", d.id, len(edgeHist), d.next)
		}
		if len(cloudHist) != len(edgeHist) {
			t.Errorf("%s: cloud has %d fixes, edge kept %d", d.id, len(cloudHist), len(edgeHist))
			continue
		}
		seen := map[string]bool{}
		for i := range edgeHist {
			if string(edgeHist[i]) != string(cloudHist[i]) {
				t.Errorf("%s point %d differs:\nedge  %s\ncloud %s", d.id, i, edgeHist[i], cloudHist[i])
				break
			}
			var p struct{ TS string }
			_ = json.Unmarshal(cloudHist[i], &p)
			if seen[p.TS] {
				t.Errorf("%s: duplicate point at %s in the cloud", d.id, p.TS)
			}
			seen[p.TS] = true
		}
	}
	t.Logf("devices sent %d fixes; the edge kept and forwarded %d (%.1fx fewer)", totalRaw, totalKept, float64(totalRaw)/float64(totalKept))
}

// TestEdgeReplayWithinEpsilon replays a real recorded run through
// edge-ingest and checks the forwarded track stays within ε of the raw one.
func TestEdgeReplayWithinEpsilon(t *testing.T) {
	e := startEdge(t, "http://127.0.0.1:1/unused", "acme")
	data, err := os.ReadFile("../testdata/tracks/run-with-laps.gpx")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := gpx.Decode(strings.NewReader(string(data)), "runner", 0)
	if err != nil {
		t.Fatal(err)
	}
	svc := token(t, "acme", auth.RoleService, "")
	r := call(t, http.MethodPost, e.ingest.URL+"?device=runner", svc, hdr("Content-Type", "application/gpx+xml"), data)
	if r.Status != http.StatusAccepted {
		t.Fatalf("gpx upload: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	waitFor(t, "the window to be flushed", 30*time.Second, func() bool { return e.client.ZCard(ctx, pendingKey).Val() == 0 })
	// The flush stores the track's last fix (the simplifier always keeps
	// it) a moment after the pending mark goes: wait for it in history.
	var kept []fix.Fix
	waitFor(t, "the track's last fix in history", 10*time.Second, func() bool {
		kept = kept[:0]
		for _, p := range history(t, e.tr.URL, token(t, "acme", auth.RoleViewer, ""), "runner") {
			f, err := fix.Decode(p, "")
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, f)
		}
		return len(kept) > 0 && kept[len(kept)-1].TS.Equal(raw[len(raw)-1].TS)
	})
	// Every raw fix is kept locally for replay: `geotrack raw` gives them back.
	out, err := exec.Command(binary, "raw", "--redis-url", e.redis.URL, "--device", "runner", "--since", "200000h").Output()
	if err != nil {
		t.Fatalf("geotrack raw: %v", err)
	}
	if lines := strings.Count(string(out), "\n"); lines != len(raw) {
		t.Fatalf("raw log holds %d fixes of runner, want %d", lines, len(raw))
	}
	maxDev, meanDev := edgefilter.MaxDeviation(raw, kept)
	eps := edgefilter.DefaultSettings().EpsilonM
	t.Logf("raw %d fixes, kept %d (%.1fx); max deviation %.2f m, mean %.2f m", len(raw), len(kept), float64(len(raw))/float64(len(kept)), maxDev, meanDev)
	if maxDev > eps+0.01 { // centimetre slack: stored coordinates are rounded
		t.Fatalf("max deviation %.3f m exceeds ε = %g m", maxDev, eps)
	}
	if len(kept)*5 > len(raw) {
		t.Fatalf("kept %d of %d fixes: the filter barely reduced the track", len(kept), len(raw))
	}
}
