package preferences_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
	"github.com/geotrack/geotrack/internal/preferences"
)

const full = `{"tracking":"paused","filter":{"min_interval_s":5,"epsilon_m":8},
 "trips":{"min_distance_m":800,"min_parking_s":600},
 "privacy_zones":[{"name":"home","lat":47.37,"lon":8.54,"radius_m":200}],
 "report":{"interval_s":30,"displacement_m":50},"retention":"72h"}`

func TestDecodeValid(t *testing.T) {
	d, err := preferences.Decode([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if d.Tracking != "paused" || len(d.PrivacyZones) != 1 || *d.Report.IntervalS != 30 || d.Retention != "72h" || *d.Trips.MinDistanceM != 800 {
		t.Fatalf("decoded %+v", d)
	}
	if _, err := preferences.Decode([]byte(`{}`)); err != nil {
		t.Fatalf("empty document: %v", err)
	}
}

// TestDecodeRefusesMalformed: each bad document is refused with an error
// naming its field.
func TestDecodeRefusesMalformed(t *testing.T) {
	cases := []struct{ name, doc, field string }{
		{"not JSON", `{`, "body"},
		{"empty", ``, "body"},
		{"array", `[]`, "body"},
		{"string", `"on"`, "body"},
		{"two objects", `{}{}`, "body"},
		{"unknown key", `{"tracking":"on","colour":"red"}`, "colour"},
		{"tracking value", `{"tracking":"off"}`, "tracking"},
		{"tracking type", `{"tracking":true}`, "tracking"},
		{"filter unknown key", `{"filter":{"bogus":1}}`, "filter.bogus"},
		{"filter negative", `{"filter":{"min_interval_s":-1}}`, "filter"},
		{"filter type", `{"filter":{"epsilon_m":"big"}}`, "filter.epsilon_m"},
		{"trips unknown key", `{"trips":{"min_speed":1}}`, "min_speed"},
		{"trips negative distance", `{"trips":{"min_distance_m":-5}}`, "trips.min_distance_m"},
		{"trips zero parking", `{"trips":{"min_parking_s":0}}`, "trips.min_parking_s"},
		{"trips stop over start speed", `{"trips":{"stop_speed":5,"start_speed":2}}`, "trips.stop_speed"},
		{"zones not an array", `{"privacy_zones":{"name":"x"}}`, "privacy_zones"},
		{"zone without name", `{"privacy_zones":[{"lat":1,"lon":2,"radius_m":10}]}`, "privacy_zones[0].name"},
		{"zone latitude", `{"privacy_zones":[{"name":"a","lat":91,"lon":2,"radius_m":10}]}`, "privacy_zones[0].lat"},
		{"zone longitude", `{"privacy_zones":[{"name":"a","lat":1,"lon":2,"radius_m":10},{"name":"b","lat":1,"lon":-181,"radius_m":10}]}`, "privacy_zones[1].lon"},
		{"zone radius zero", `{"privacy_zones":[{"name":"a","lat":1,"lon":2,"radius_m":0}]}`, "privacy_zones[0].radius_m"},
		{"zone radius huge", `{"privacy_zones":[{"name":"a","lat":1,"lon":2,"radius_m":1e7}]}`, "privacy_zones[0].radius_m"},
		{"zone unknown key", `{"privacy_zones":[{"name":"a","lat":1,"lon":2,"radius_m":5,"shape":"square"}]}`, "shape"},
		{"report interval zero", `{"report":{"interval_s":0}}`, "report.interval_s"},
		{"report displacement negative", `{"report":{"displacement_m":-1}}`, "report.displacement_m"},
		{"report unknown key", `{"report":{"mode":"move"}}`, "mode"},
		{"retention not a duration", `{"retention":"a week"}`, "retention"},
		{"retention too short", `{"retention":"5m"}`, "retention"},
		{"retention as number", `{"retention":72}`, "retention"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := preferences.Decode([]byte(tc.doc))
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a field error", err)
			}
			if !strings.Contains(fe.Field, tc.field) {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tc.field)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tenant, err := preferences.Decode([]byte(`{"tracking":"on","trips":{"min_distance_m":800},"privacy_zones":[{"name":"depot","lat":1,"lon":1,"radius_m":100}],"report":{"interval_s":60}}`))
	if err != nil {
		t.Fatal(err)
	}
	device, err := preferences.Decode([]byte(`{"tracking":"paused","trips":{"min_parking_s":120},"privacy_zones":[{"name":"home","lat":2,"lon":2,"radius_m":50}],"filter":{"min_interval_s":7},"retention":"24h"}`))
	if err != nil {
		t.Fatal(err)
	}
	e := preferences.Resolve(tenant, device, edgefilter.DefaultSettings())
	if !e.Paused || e.Trips.MinTripDistanceM != 800 || e.Trips.MinParking != 2*time.Minute || e.IntervalS != 60 || !e.ReportSet {
		t.Errorf("effective %+v", e)
	}
	if len(e.PrivacyZones) != 2 {
		t.Errorf("zones %+v: a device's zones add to its tenant's", e.PrivacyZones)
	}
	if !e.FilterSet || e.Filter.MinIntervalS != 7 || e.Filter.EpsilonM != edgefilter.DefaultSettings().EpsilonM {
		t.Errorf("filter %+v", e.Filter)
	}
	if e.Retention != 24*time.Hour {
		t.Errorf("retention %v", e.Retention)
	}
	plain := preferences.Resolve(tenant, preferences.Document{}, edgefilter.DefaultSettings())
	if plain.Paused || plain.FilterSet || len(plain.PrivacyZones) != 1 {
		t.Errorf("tenant only %+v", plain)
	}
	if z, ok := preferences.InZone(e.PrivacyZones, geo.Point{Lat: 2.0003, Lon: 2}); !ok || z.Name != "home" {
		t.Errorf("33 m from home: %v %v", z, ok)
	}
	if _, ok := preferences.InZone(e.PrivacyZones, geo.Point{Lat: 2.001, Lon: 2}); ok {
		t.Error("111 m from home is outside its 50 m")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(`{"privacy_zones":[{"name":"a","lat":1,"lon":2,"radius_m":5}]}`))
	f.Add([]byte(`{"trips":{"min_duration_s":1e300}}`))
	f.Add([]byte(`{"filter":{"window_points":3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := preferences.Decode(data)
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded document does not validate: %v", err)
		}
		_ = preferences.Resolve(d, d, edgefilter.DefaultSettings())
	})
}
