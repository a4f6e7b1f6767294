package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestMovementTripsFromSignedDeliveries: ingest's relay posts its
// location.updated events to movement as a connector or a Knative Trigger
// would: straight over HTTP, WITHOUT an Authorization header. Movement takes
// them on their signature (geotracksig, keyed from the shared jwt-secret)
// and emits the vehicle's trips and stops; an unsigned post without a token
// is refused with 401 and changes nothing.
func TestMovementTripsFromSignedDeliveries(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	movementFn := startFunction(t, "movement", map[string]string{"REDIS_URL": rs.URL})

	// A pass-through in front of movement records what each delivery
	// carried, to show that no Authorization header was needed.
	target, _ := url.Parse(movementFn.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var withAuthorization, deliveries int
	statuses := map[int]int{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries++
		if r.Header.Get("Authorization") != "" {
			withAuthorization++
		}
		mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rec, r)
		mu.Lock()
		statuses[rec.status]++
		mu.Unlock()
	}))
	t.Cleanup(front.Close)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL, "EVENT_SINK": front.URL})

	sim := fleet.Simulate(91, "van-9", 2*time.Second, true, []fleet.Segment{
		{Park: 6 * time.Minute}, {DriveM: 2500, Speed: 13}, {Park: 6 * time.Minute},
	})
	shift := time.Now().Add(-2 * time.Hour).Truncate(time.Second).Sub(sim.Fixes[0].TS)
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
		if r := call(t, http.MethodPost, ingest.URL, svc, hdr("Content-Type", "application/json"), body); r.Status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
	}

	// The relay sends one device's events in order, so movement sees the
	// day as it happened and emits exactly its trip and stops.
	want := map[string]int{eventtype.StopStarted: 2, eventtype.StopEnded: 1, eventtype.TripStarted: 1, eventtype.TripEnded: 1}
	var counts map[string]int
	testenv.Eventually(t, "movement emitted the trip", 20*time.Second, func() bool {
		counts = eventLogCounts(t, rc, "acme")
		return reflect.DeepEqual(counts, want)
	})
	testenv.Eventually(t, "ingest's outbox drained", 10*time.Second, func() bool { return outboxDepth(t, rc, "acme") == 0 })
	mu.Lock()
	if deliveries == 0 || withAuthorization != 0 || statuses[http.StatusOK] != deliveries {
		t.Errorf("%d deliveries, %d with an Authorization header, statuses %v; want all 200 without one", deliveries, withAuthorization, statuses)
	}
	mu.Unlock()

	// Without a token, an unsigned event is refused and nothing changes.
	before := snapshot(t, rc)
	unsigned := `{"specversion":"1.0","id":"forged-1","source":"urn:x","type":"` + eventtype.LocationUpdated + `","subject":"van-9","tenant":"acme",` +
		`"datacontenttype":"application/json","data":[{"ts":"` + time.Now().UTC().Format(time.RFC3339) + `","lat":1,"lon":2}]}`
	r := call(t, http.MethodPost, movementFn.URL, "", hdr("Content-Type", "application/cloudevents+json"), []byte(unsigned))
	if r.Status != http.StatusUnauthorized || !json.Valid(r.Body) || !strings.Contains(string(r.Body), "event signature") {
		t.Errorf("unsigned delivery: %d %s, want 401 naming the event signature", r.Status, r.Body)
	}
	if after := snapshot(t, rc); after != before {
		t.Error("a refused delivery changed Redis")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// eventLogCounts counts the event types in tenant's event log.
func eventLogCounts(t *testing.T, rc redis.UniversalClient, tenant string) map[string]int {
	t.Helper()
	msgs, err := rc.XRange(context.Background(), redisstore.EventLogKey("gt", tenant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, m := range msgs {
		var ce struct{ Type string }
		raw, _ := m.Values["ce"].(string)
		if err := json.Unmarshal([]byte(raw), &ce); err != nil {
			t.Fatalf("event log entry %s: %v", m.ID, err)
		}
		counts[ce.Type]++
	}
	return counts
}
