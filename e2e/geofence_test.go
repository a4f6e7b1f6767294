package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// Issue 9 (h7): geofences, geofence-detect and the event log, end to end:
// ingest (real binary) → its outbox relay → a stand-in connector → the
// geofence-detect binary → its outbox relay → an HTTP receiver, with real
// Redis; the event log read back through the events binary.

// geoEvent is a geofence CloudEvent as the receiver got it (binary mode).
type geoEvent struct {
	ID, Type, Subject, Tenant string
	Data                      map[string]any
}

// fenceRig is the running pipeline of one test.
type fenceRig struct {
	redis     redis.UniversalClient
	redisURL  string
	ingest    *proc
	fences    *proc
	detect    *proc
	events    *proc
	mu        sync.Mutex
	received  []geoEvent
	delivered int // location.updated events the connector delivered
}

func startFenceRig(t *testing.T) *fenceRig {
	t.Helper()
	rs := testenv.StartRedis(t)
	rig := &fenceRig{}
	// One sink for every process, as NATS is in production: every relay on
	// this Redis may drain any outbox. It routes by type, as the connector
	// does from the topics: location.updated to geofence-detect (with a
	// service token of the event's tenant, as geotrack dev's router does),
	// geofence events to the test's receiver.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		typ := r.Header.Get("Ce-Type")
		if strings.HasPrefix(typ, "io.geotrack.geofence.") {
			var data map[string]any
			if err := json.Unmarshal(body, &data); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rig.mu.Lock()
			rig.received = append(rig.received, geoEvent{ID: r.Header.Get("Ce-Id"), Type: typ,
				Subject: r.Header.Get("Ce-Subject"), Tenant: r.Header.Get("Ce-Tenant"), Data: data})
			rig.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if typ != "io.geotrack.location.updated" {
			http.Error(w, "unexpected type "+typ, http.StatusBadRequest)
			return
		}
		req, _ := http.NewRequest(http.MethodPost, rig.detect.URL, strings.NewReader(string(body)))
		req.Header = r.Header.Clone()
		tok, _ := auth.Sign([]byte(testSecret), auth.Principal{Tenant: r.Header.Get("Ce-Tenant"), Role: auth.RoleService}, time.Minute)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode == http.StatusOK {
			rig.mu.Lock()
			rig.delivered++
			rig.mu.Unlock()
		}
		w.WriteHeader(resp.StatusCode)
	}))
	t.Cleanup(sink.Close)
	env := map[string]string{"REDIS_URL": rs.URL, "EVENT_SINK": sink.URL}
	rig.detect = startFunction(t, "geofence-detect", env)
	rig.ingest = startFunction(t, "ingest", env)
	rig.fences = startFunction(t, "geofences", map[string]string{"REDIS_URL": rs.URL})
	rig.events = startFunction(t, "events", map[string]string{"REDIS_URL": rs.URL})
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	rig.redis, rig.redisURL = client, rs.URL
	return rig
}

func (rig *fenceRig) putFence(t *testing.T, tenant, body string) {
	t.Helper()
	r := call(t, http.MethodPost, rig.fences.URL, token(t, tenant, auth.RoleAdmin, ""), hdr("Content-Type", "application/geo+json"), []byte(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("create fence: %d %s", r.Status, r.Body)
	}
}

// report ingests fixes of device (sec offsets from base) in one request.
func (rig *fenceRig) report(t *testing.T, tenant string, fixes ...string) {
	t.Helper()
	r := call(t, http.MethodPost, rig.ingest.URL, token(t, tenant, auth.RoleService, ""), hdr("Content-Type", "application/json"),
		[]byte("["+strings.Join(fixes, ",")+"]"))
	if r.Status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.Status, r.Body)
	}
}

func at(device string, sec int, lat, lon float64) string {
	return fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%.9f,"lon":%.9f,"acc":5}`, device, ts(sec), lat, lon)
}

// waitEvents waits until the receiver holds n events of device, and returns them.
func (rig *fenceRig) waitEvents(t *testing.T, device string, n int) []geoEvent {
	t.Helper()
	var got []geoEvent
	testenv.Eventually(t, fmt.Sprintf("%d geofence events of %s", n, device), 15*time.Second, func() bool {
		got = rig.eventsOf(device)
		return len(got) >= n
	})
	return got
}

func (rig *fenceRig) eventsOf(device string) []geoEvent {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	var out []geoEvent
	for _, e := range rig.received {
		if e.Subject == device {
			out = append(out, e)
		}
	}
	return out
}

func kinds(evs []geoEvent) string {
	var parts []string
	for _, e := range evs {
		k := strings.TrimPrefix(e.Type, "io.geotrack.geofence.") + " " + fmt.Sprint(e.Data["fence"])
		if e.Data["crossed"] == true {
			k += " crossed"
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, ", ")
}

// logOf reads the device's events back through the events function.
func (rig *fenceRig) logOf(t *testing.T, tenant, device string) []map[string]any {
	t.Helper()
	r := call(t, http.MethodGet, rig.events.URL+"?device="+device, token(t, tenant, auth.RoleViewer, ""), nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("events: %d %s", r.Status, r.Body)
	}
	var page struct {
		Events []map[string]any `json:"events"`
		Next   string           `json:"next"`
	}
	r.JSON(t, &page)
	return page.Events
}

// metres north/east of (lat, lon), near enough.
func offset(lat, lon, north, east float64) (float64, float64) {
	return lat + north/111195, lon + east/(111195*math.Cos(lat*math.Pi/180))
}

const (
	yardLat, yardLon = 48.8566, 2.3522 // south-west corner of a 200 m square
)

func squareFence(id string, dwell int) string {
	nLat, eLon := offset(yardLat, yardLon, 200, 200)
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Polygon","coordinates":[[[%[2]f,%[3]f],[%[4]f,%[3]f],[%[4]f,%[5]f],[%[2]f,%[5]f],[%[2]f,%[3]f]]]},"properties":{"name":"Yard %[1]s","dwell_s":%[6]d}}`,
		id, yardLon, yardLat, eLon, nLat, dwell)
}

func TestGeofenceEnterDwellExit(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 30))
	inLat, inLon := offset(yardLat, yardLon, 100, 100)
	outLat, outLon := offset(yardLat, yardLon, 100, -300)
	rig.report(t, "acme", at("van-1", 0, outLat, outLon))
	rig.report(t, "acme", at("van-1", 10, inLat, inLon))
	rig.report(t, "acme", at("van-1", 25, inLat, inLon))
	rig.report(t, "acme", at("van-1", 45, inLat, inLon))
	rig.report(t, "acme", at("van-1", 60, outLat, outLon))
	got := rig.waitEvents(t, "van-1", 3)
	if k := kinds(got); k != "entered yard, dwelled yard, exited yard" {
		t.Fatalf("events: %s", k)
	}
	wantTS := []string{tsMS(10), tsMS(45), tsMS(60)}
	for i, e := range got {
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			keys = append(keys, k)
		}
		if len(e.Data) != 6 || e.Data["device"] != "van-1" || e.Data["fence"] != "yard" || e.Data["name"] != "Yard yard" ||
			e.Data["ts"] != wantTS[i] || e.Tenant != "acme" || e.ID == "" {
			t.Fatalf("event %d: %+v (keys %v)", i, e, keys)
		}
	}
	// The event log has the same events, in order, as structured CloudEvents.
	logged := rig.logOf(t, "acme", "van-1")
	if len(logged) != 3 {
		t.Fatalf("event log: %v", logged)
	}
	for i, e := range logged {
		if e["id"] != got[i].ID || e["type"] != got[i].Type || e["specversion"] != "1.0" || e["subject"] != "van-1" {
			t.Fatalf("log entry %d = %v, delivered %+v", i, e, got[i])
		}
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rig.eventsOf("van-1")); n != 3 {
		t.Fatalf("%d events delivered, want 3", n)
	}
}

func TestGeofenceCrossingBetweenSparseFixes(t *testing.T) {
	rig := startFenceRig(t)
	cLat, cLon := offset(yardLat, yardLon, 1000, 1000)
	rig.putFence(t, "acme", fmt.Sprintf(`{"type":"Feature","id":"depot","geometry":{"type":"Point","coordinates":[%f,%f]},"properties":{"name":"Depot","radius_m":80}}`, cLon, cLat))
	rig.putFence(t, "acme", squareFence("yard", 0))
	// West of the depot, then east of it a minute later: the segment crosses
	// the circle. Then north of the yard, then south of it: crosses the square.
	wLat, wLon := offset(cLat, cLon, 20, -500)
	eLat, eLon := offset(cLat, cLon, -20, 500)
	nLat, nLon := offset(yardLat, yardLon, 600, 120)
	sLat, sLon := offset(yardLat, yardLon, -400, 80)
	rig.report(t, "acme", at("bike-1", 0, wLat, wLon))
	rig.report(t, "acme", at("bike-1", 60, eLat, eLon))
	rig.report(t, "acme", at("bike-1", 120, nLat, nLon))
	rig.report(t, "acme", at("bike-1", 180, sLat, sLon))
	got := rig.waitEvents(t, "bike-1", 4)
	if k := kinds(got); k != "entered depot crossed, exited depot crossed, entered yard crossed, exited yard crossed" {
		t.Fatalf("events: %s", k)
	}
	if got[0].Data["ts"] != tsMS(60) || got[2].Data["ts"] != tsMS(180) {
		t.Fatalf("crossings carry the second fix: %+v", got)
	}
}

func TestGeofenceNoisyParkedTrackDoesNotFlap(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 0))
	// Parked on the east edge for five minutes of 1 Hz fixes with 3 m of
	// Gaussian noise on each axis, reported 10 at a time.
	edgeLat, edgeLon := offset(yardLat, yardLon, 100, 200)
	rng := rand.New(rand.NewPCG(3, 4))
	var firstIn = -1
	for s := 0; s < 300; s += 10 {
		var batch []string
		for k := s; k < s+10; k++ {
			lat, lon := offset(edgeLat, edgeLon, rng.NormFloat64()*3, rng.NormFloat64()*3)
			if firstIn < 0 && lon < edgeLon {
				firstIn = k
			}
			batch = append(batch, at("car-9", k, lat, lon))
		}
		rig.report(t, "acme", batch...)
	}
	testenv.Eventually(t, "all 30 location events evaluated", 15*time.Second, func() bool {
		rig.mu.Lock()
		defer rig.mu.Unlock()
		return rig.delivered >= 30
	})
	time.Sleep(300 * time.Millisecond) // let the last outbox drain
	got := rig.eventsOf("car-9")
	if k := kinds(got); k != "entered yard" {
		t.Fatalf("events of a parked car: %s", k)
	}
	if got[0].Data["ts"] != tsMS(firstIn) {
		t.Fatalf("entered at %v, first fix inside at %s", got[0].Data["ts"], tsMS(firstIn))
	}
}

func TestGeofenceEditsTakeEffectWithinTwoSeconds(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 0))
	inLat, inLon := offset(yardLat, yardLon, 100, 100)
	rig.report(t, "acme", at("van-2", 0, inLat, inLon))
	rig.waitEvents(t, "van-2", 1)

	// Move the yard 1 km east: the next fix, 2 s after the edit, exits it.
	movedLat, movedLon := offset(yardLat, yardLon, 0, 1000)
	nLat, eLon := offset(movedLat, movedLon, 200, 200)
	moved := fmt.Sprintf(`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[%[1]f,%[2]f],[%[3]f,%[2]f],[%[3]f,%[4]f],[%[1]f,%[4]f],[%[1]f,%[2]f]]]},"properties":{"name":"Yard moved"}}`,
		movedLon, movedLat, eLon, nLat)
	r := call(t, http.MethodPut, rig.fences.URL+"?id=yard", token(t, "acme", auth.RoleAdmin, ""), nil, []byte(moved))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	// And a new fence where the van is.
	rig.putFence(t, "acme", fmt.Sprintf(`{"type":"Feature","id":"spot","geometry":{"type":"Point","coordinates":[%f,%f]},"properties":{"name":"Spot","radius_m":50}}`, inLon, inLat))
	time.Sleep(2 * time.Second)
	rig.report(t, "acme", at("van-2", 5, inLat, inLon))
	got := rig.waitEvents(t, "van-2", 3)
	if k := kinds(got); k != "entered yard, entered spot, exited yard" {
		t.Fatalf("events: %s", k)
	}
	// Deleted: a fence the van is inside is forgotten without an exit.
	r = call(t, http.MethodDelete, rig.fences.URL+"?id=spot", token(t, "acme", auth.RoleAdmin, ""), nil, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	time.Sleep(2 * time.Second)
	rig.report(t, "acme", at("van-2", 10, inLat+0.1, inLon))
	rig.report(t, "acme", at("van-2", 15, inLat, inLon))
	time.Sleep(time.Second)
	if k := kinds(rig.eventsOf("van-2")); k != "entered yard, entered spot, exited yard" {
		t.Fatalf("after deleting spot: %s", k)
	}
}

func TestGeofenceRedeliveryEmitsNoDuplicates(t *testing.T) {
	rig := startFenceRig(t)
	rig.putFence(t, "acme", squareFence("yard", 0))
	inLat, inLon := offset(yardLat, yardLon, 100, 100)
	outLat, outLon := offset(yardLat, yardLon, 100, -300)
	// The same location.updated event delivered three times, as a connector
	// retrying after a lost acknowledgement would.
	event := fmt.Sprintf(`{"specversion":"1.0","id":"upd-1","source":"urn:geotrack:ingest","type":"io.geotrack.location.updated","subject":"van-3","tenant":"acme","datacontenttype":"application/json","data":[%s,%s]}`,
		at("van-3", 0, outLat, outLon), at("van-3", 10, inLat, inLon))
	svc := token(t, "acme", auth.RoleService, "")
	var results []map[string]int
	for i := 0; i < 3; i++ {
		r := call(t, http.MethodPost, rig.detect.URL, svc, hdr("Content-Type", "application/cloudevents+json"), []byte(event))
		if r.Status != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i, r.Status, r.Body)
		}
		var res map[string]int
		r.JSON(t, &res)
		results = append(results, res)
	}
	if results[0]["events"] != 1 || results[1]["events"] != 0 || results[1]["ignored"] != 2 || results[2]["events"] != 0 {
		t.Fatalf("results %v", results)
	}
	rig.waitEvents(t, "van-3", 1)
	time.Sleep(time.Second)
	if got := rig.eventsOf("van-3"); len(got) != 1 {
		t.Fatalf("%d events delivered: %s", len(got), kinds(got))
	}
	if logged := rig.logOf(t, "acme", "van-3"); len(logged) != 1 {
		t.Fatalf("event log holds %d events", len(logged))
	}
	// A late fix (older than the last evaluated) changes nothing either.
	late := fmt.Sprintf(`{"specversion":"1.0","id":"upd-0","source":"urn:geotrack:ingest","type":"io.geotrack.location.updated","subject":"van-3","tenant":"acme","data":[%s]}`,
		at("van-3", 5, outLat, outLon))
	r := call(t, http.MethodPost, rig.detect.URL, svc, hdr("Content-Type", "application/cloudevents+json"), []byte(late))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"ignored":1`) {
		t.Fatalf("late fix: %d %s", r.Status, r.Body)
	}
}
