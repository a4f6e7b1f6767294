package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestAlertsChainFromIngest chains every stage in one real binary
// (`geotrack dev`, whose router stands in for the connector and routes by
// the pack's subscriptions): ingest → outbox relay → geofence-detect →
// outbox relay → notify → the signed webhook, and the fired alert in the
// event log read back through `events`.
func TestAlertsChainFromIngest(t *testing.T) {
	rs := testenv.StartRedis(t)
	base := startDev(t, rs.URL, "LOG_LEVEL=info", "EVENT_RELAY_INTERVAL=100ms", "DELIVERY_INTERVAL=100ms") + "/function/"
	admin := token(t, "acme", auth.RoleAdmin, "")

	fence := `{"type":"Feature","id":"depot","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"name":"Depot","radius_m":100}}`
	if r := call(t, http.MethodPost, base+"geofences", admin, hdr("Content-Type", "application/geo+json"), []byte(fence)); r.Status != http.StatusCreated {
		t.Fatalf("fence: %d %s", r.Status, r.Body)
	}
	recv := newWebhookReceiver(t)
	ruleID := recv.createRule(t, base+"rules", admin, "/arrivals", `{"name":"depot arrivals","on":["io.geotrack.geofence.entered"],"fences":["depot"],WEBHOOK}`)
	time.Sleep(2500 * time.Millisecond) // fence changes reach detect's index within 2 s

	svc := token(t, "acme", auth.RoleService, "")
	now := time.Now().UTC().Truncate(time.Second)
	for i, lat := range []float64{48.86, 48.8501} { // ~1.1 km north, then inside
		body := fmt.Sprintf(`{"device":"van-1","ts":%q,"lat":%f,"lon":2.35}`, now.Add(time.Duration(i-2)*time.Second).Format(time.RFC3339), lat)
		if r := call(t, http.MethodPost, base+"ingest", svc, hdr("Content-Type", "application/json"), []byte(body)); r.Status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
	}
	testenv.Eventually(t, "the alert at the webhook", 15*time.Second, func() bool { return len(recv.distinct("/arrivals")) == 1 })
	d := recv.distinct("/arrivals")[0]
	var cause struct {
		Type string
		Data struct{ Device, Fence string }
	}
	if err := json.Unmarshal(d.Event.Data.Event, &cause); err != nil {
		t.Fatal(err)
	}
	if d.Event.Data.Rule != ruleID || cause.Type != "io.geotrack.geofence.entered" || cause.Data.Fence != "depot" || cause.Data.Device != "van-1" {
		t.Fatalf("alert: %s", d.Body)
	}
	if recv.badSigned != 0 {
		t.Errorf("%d deliveries failed the signature check", recv.badSigned)
	}
	// The event log holds the geofence event and the alert.
	testenv.Eventually(t, "the alert in the event log", 5*time.Second, func() bool {
		r := call(t, http.MethodGet, base+"events?device=van-1", token(t, "acme", auth.RoleViewer, ""), nil, nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), "io.geotrack.alert.fired") && strings.Contains(string(r.Body), "io.geotrack.geofence.entered")
	})
}
