package geofence

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// eventData is the data of geofence events (public contract): the
// reference the event encoder is checked against, through encoding/json.
type eventData struct {
	Device  string  `json:"device"`
	Fence   string  `json:"fence"`
	Name    string  `json:"name"`
	TS      string  `json:"ts"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Crossed bool    `json:"crossed,omitempty"`
	// Edge is the edge node that evaluated the fix and fired its alerts
	// (fix.AttrEdgeAlerts): notify elsewhere fires none for the event.
	Edge string `json:"edge,omitempty"`
}

// referenceEvent is the event with its data through encoding/json.
func referenceEvent(t testing.TB, source, tenant, device string, tr Transition, traceParent, edge string) (data, whole []byte) {
	data, err := json.Marshal(eventData{Device: device, Fence: tr.FenceID, Name: tr.Name, TS: fix.FormatTime(tr.TS),
		Lat: tr.Lat, Lon: tr.Lon, Crossed: tr.Crossed, Edge: edge})
	if err != nil {
		t.Fatal(err)
	}
	// The envelope is eventtype's (checked against encoding/json there).
	whole, _, _ = eventtype.AppendStructured(nil, eventtype.Head{ID: EventID(tenant, device, tr.FenceID, tr.Kind, tr.TS),
		Source: source, Type: eventTypes[tr.Kind], Subject: device, Time: tr.TS.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano),
		Tenant: tenant, TraceParent: traceParent}, func(b []byte) []byte { return append(b, data...) })
	return data, whole
}

func checkEventEncoding(t testing.TB, source, tenant, device string, tr Transition, traceParent, edge string) {
	d := &Detector{Source: source}
	e, err := d.event(tenant, device, tr, traceParent, edge)
	if err != nil {
		t.Fatal(err)
	}
	data, whole := referenceEvent(t, source, tenant, device, tr, traceParent, edge)
	if !bytes.Equal(e.Data, data) || !bytes.Equal(e.Structured, whole) {
		t.Fatalf("event encoding differs from encoding/json:\n got %s\nwant %s\n got data %s\nwant data %s", e.Structured, whole, e.Data, data)
	}
}

// TestEventEncodingIsEncodingJSON: the hand-written event encoder gives
// what encoding/json gives, byte for byte.
func TestEventEncodingIsEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 1, 123456789, time.FixedZone("x", 3600))
	cases := []struct {
		name, source, tenant, device, traceParent, edge string
		tr                                              Transition
	}{
		{"plain", "urn:geotrack:geofence-detect", "acme", "truck-1", "", "",
			Transition{Kind: Entered, FenceID: "f-1", Name: "Depot", TS: ts, Lat: 51.5074, Lon: -0.1278}},
		{"crossed, traced, from an edge", "urn:x", "t", "d", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "edge-7",
			Transition{Kind: Exited, FenceID: "f", Name: "n", TS: ts.Add(-time.Hour), Lat: -89.9999999, Lon: 179.5, Crossed: true}},
		{"strings to escape", "urn:<x>&y", "t\"q", "d\\e\u2028", "", "é",
			Transition{Kind: Dwelled, FenceID: "f", Name: "Caf\u00e9 \"<b>\" \x01 \xff", TS: ts}},
		{"tiny and whole coordinates", "urn:x", "t", "d", "", "",
			Transition{Kind: Entered, FenceID: "f", Name: "n", TS: time.Unix(0, 0), Lat: 1e-7, Lon: -3e-9}},
		{"zero and integral", "urn:x", "t", "d", "", "",
			Transition{Kind: Entered, FenceID: "f", Name: "", TS: ts, Lat: 0, Lon: 12}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkEventEncoding(t, c.source, c.tenant, c.device, c.tr, c.traceParent, c.edge)
		})
	}
}

func FuzzEventEncoding(f *testing.F) {
	f.Add("acme", "truck-1", "f-1", "Depot", "", 51.5074, -0.1278, int64(1764417600123456789), false)
	f.Add("t<", "d\u2028", "f", "caf\xe9", "edge", 1e-7, -1e-300, int64(0), true)
	f.Fuzz(func(t *testing.T, tenant, device, fence, name, edge string, lat, lon float64, ns int64, crossed bool) {
		if math.IsNaN(lat) || math.IsInf(lat, 0) || math.IsNaN(lon) || math.IsInf(lon, 0) {
			return // fixes are validated: never here
		}
		checkEventEncoding(t, "urn:fuzz", tenant, device, Transition{Kind: Exited, FenceID: fence, Name: name,
			TS: time.Unix(0, ns), Lat: lat, Lon: lon, Crossed: crossed}, "", edge)
	})
}

// TestEventIDsStay: ids are deterministic across versions too (a location
// event redelivered after an upgrade yields the same ids).
func TestEventIDsStay(t *testing.T) {
	cases := []struct {
		tenant, device, fence, kind string
		ts                          time.Time
		want                        string
	}{
		{"acme", "truck-1", "f-1", Entered, time.Date(2026, 11, 29, 12, 0, 1, 123456789, time.FixedZone("x", 3600)), "2393c8c23a8dd11ee6054cba4ec2dad7"},
		{"", "", "", Exited, time.Unix(0, 0), "ab11a2a3f051d3e5d9f29aa5efbe7c96"},
	}
	for _, c := range cases {
		if got := EventID(c.tenant, c.device, c.fence, c.kind, c.ts); got != c.want {
			t.Errorf("EventID(%q, %q, %q, %q, %v) = %s, want %s", c.tenant, c.device, c.fence, c.kind, c.ts, got, c.want)
		}
	}
}
