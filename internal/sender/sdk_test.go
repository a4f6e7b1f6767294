package sender

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// TestStructuredMatchesSDK encodes the same events with the fast path
// (AppendStructured) and with the CloudEvents SDK and requires the SDK to
// read both as the same event: same attributes, same extensions, same data.
func TestStructuredMatchesSDK(t *testing.T) {
	fixes := testFixes(5)
	odd := fix.Fix{Device: `quote"back\slash-ü-😀`, TS: time.Date(2026, 3, 1, 8, 0, 0, 123_000_000, time.UTC), Lat: -33.9, Lon: 151.2}
	cases := []struct {
		name  string
		env   Envelope
		fixes []fix.Fix
		array bool
	}{
		{"single fix, all attributes", Envelope{ID: "id-1", Source: "urn:geotrack:cli", Subject: "dev-0", Time: fixes[0].TS}, fixes[:1], false},
		{"batch without subject", Envelope{ID: "b-2", Source: "urn:geotrack:replay", Time: fixes[4].TS}, fixes, true},
		{"forwarder batch with tenant", Envelope{ID: "edge-9-1-0-1-4", Source: "urn:geotrack:edge:edge-9", Subject: "dev-1",
			Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Tenant: "acme"}, fixes[1:2], true},
		{"escaping and no time", Envelope{ID: "ü\"id", Source: "urn:x:ü", Subject: odd.Device}, []fix.Fix{odd}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast, err := AppendStructured(nil, c.env, c.fixes, c.array)
			if err != nil {
				t.Fatal(err)
			}
			var data any = c.fixes[0]
			if c.array {
				data = c.fixes
			}
			sdk := event.New()
			sdk.SetID(c.env.ID)
			sdk.SetSource(c.env.Source)
			sdk.SetType(eventtype.LocationReported)
			if c.env.Subject != "" {
				sdk.SetSubject(c.env.Subject)
			}
			if !c.env.Time.IsZero() {
				sdk.SetTime(c.env.Time)
			}
			if c.env.Tenant != "" {
				sdk.SetExtension(eventtype.ExtTenant, c.env.Tenant)
			}
			if err := sdk.SetData(event.ApplicationJSON, data); err != nil {
				t.Fatal(err)
			}
			viaSDK, err := json.Marshal(sdk)
			if err != nil {
				t.Fatal(err)
			}
			got, want := readWithSDK(t, fast), readWithSDK(t, viaSDK)
			if err := got.Validate(); err != nil {
				t.Fatalf("fast path event invalid for the SDK: %v\n%s", err, fast)
			}
			if got.ID() != want.ID() || got.Source() != want.Source() || got.Type() != want.Type() ||
				got.Subject() != want.Subject() || !got.Time().Equal(want.Time()) ||
				got.DataContentType() != want.DataContentType() || got.SpecVersion() != want.SpecVersion() {
				t.Fatalf("attributes differ:\nfast %s\nsdk  %s", got.Context, want.Context)
			}
			if !reflect.DeepEqual(got.Extensions(), want.Extensions()) {
				t.Fatalf("extensions differ: fast %v, sdk %v", got.Extensions(), want.Extensions())
			}
			var gotData, wantData any
			if err := json.Unmarshal(got.Data(), &gotData); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want.Data(), &wantData); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotData, wantData) {
				t.Fatalf("data differs:\nfast %s\nsdk  %s", got.Data(), want.Data())
			}
		})
	}
}

func readWithSDK(t *testing.T, body []byte) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("SDK cannot read %s: %v", body, err)
	}
	return e
}
