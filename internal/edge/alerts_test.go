package edge

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
)

type fakeDetector struct {
	got  []fix.Fix
	emit []geofence.Event
}

func (d *fakeDetector) Detect(_ context.Context, _ string, fixes []fix.Fix, _ string) (geofence.Result, error) {
	d.got = fixes
	return geofence.Result{Fixes: len(fixes), Events: len(d.emit), Emitted: d.emit}, nil
}

type fakeEngine struct{ got []alert.Event }

func (e *fakeEngine) Handle(_ context.Context, _ string, ev alert.Event) (alert.Summary, error) {
	e.got = append(e.got, ev)
	return alert.Summary{}, nil
}

// TestAlertsEvaluate: the rules see the fixes as one location event (the
// same fixes make the same id) and then each geofence event detection
// emitted; Mark copies, leaving the caller's fixes and attributes alone.
func TestAlertsEvaluate(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	in := []fix.Fix{{Device: "van-1", TS: t0, Lat: 1, Lon: 1, Attrs: map[string]string{"alarm": "1"}},
		{Device: "van-1", TS: t0.Add(time.Second), Lat: 1, Lon: 1}}
	det := &fakeDetector{emit: []geofence.Event{{ID: "g1", Type: alert.TypeGeofenceEntered, Subject: "van-1", Data: json.RawMessage(`{"device":"van-1"}`)}}}
	eng := &fakeEngine{}
	a := &Alerts{Node: "site-1", Detector: det, Rules: eng, Source: "urn:geotrack:edge:site-1"}
	marked := a.Mark(in)
	if in[0].Attrs[fix.AttrEdgeAlerts] != "" || in[1].Attrs != nil {
		t.Fatalf("Mark changed the caller's fixes: %+v", in)
	}
	if marked[0].EdgeEvaluated() != "site-1" || marked[0].Attrs["alarm"] != "1" || marked[1].EdgeEvaluated() != "site-1" {
		t.Fatalf("marked: %+v", marked)
	}
	if err := a.Evaluate(context.Background(), "acme", marked); err != nil {
		t.Fatal(err)
	}
	if len(det.got) != 2 || len(eng.got) != 2 {
		t.Fatalf("detector got %d fixes, engine %d events", len(det.got), len(eng.got))
	}
	loc, geo := eng.got[0], eng.got[1]
	if loc.Type != "io.geotrack.location.updated" || loc.Subject != "van-1" || loc.Source != a.Source {
		t.Errorf("location event %+v", loc)
	}
	fixes, _, err := fix.DecodeBatch(loc.Data, loc.Subject)
	if err != nil || len(fixes) != 2 || fixes[1].EdgeEvaluated() != "site-1" {
		t.Errorf("location data %s: %v", loc.Data, err)
	}
	var structured map[string]any
	if err := json.Unmarshal(loc.Structured, &structured); err != nil || structured["id"] != loc.ID || structured["tenant"] != "acme" {
		t.Errorf("structured %s: %v", loc.Structured, err)
	}
	if geo.ID != "g1" || geo.Type != alert.TypeGeofenceEntered {
		t.Errorf("geofence event %+v", geo)
	}
	again := &fakeEngine{}
	a.Rules = again
	if err := a.Evaluate(context.Background(), "acme", marked); err != nil || again.got[0].ID != loc.ID {
		t.Errorf("the same fixes made location event %q, then %q", loc.ID, again.got[0].ID)
	}
}
