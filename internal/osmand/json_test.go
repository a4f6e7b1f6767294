package osmand

import (
	"errors"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// traccarClient is a body as Traccar Client 9 posts it.
const traccarClient = `{"location":{"timestamp":"2026-03-01T11:59:30.123Z","coords":{"latitude":52.52,"longitude":13.405,` +
	`"accuracy":4.5,"speed":3.2,"heading":181.5,"altitude":41},"is_moving":true,"odometer":1234.5,"event":"motionchange",` +
	`"battery":{"level":0.87,"is_charging":false},"activity":{"type":"walking"},"extras":{}},"device_id":"48241179"}`

func TestDecodeJSON(t *testing.T) {
	f, err := DecodeJSON([]byte(traccarClient), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fix.Validate(&f, now); err != nil {
		t.Fatalf("decoded fix does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"device", f.Device, "48241179"},
		{"ts", f.TS, time.Date(2026, 3, 1, 11, 59, 30, 123e6, time.UTC)},
		{"lat", f.Lat, 52.52},
		{"lon", f.Lon, 13.405},
		{"alt", *f.Alt, 41.0},
		{"acc", *f.Acc, 4.5},
		{"speed is m/s already", *f.Speed, 3.2},
		{"heading", *f.Heading, 181.5},
		{"battery is 0..1 already", *f.Battery, 0.87},
		{"charge", f.Attrs["charge"], "false"},
		{"moving", f.Attrs["moving"], "true"},
		{"odometer", f.Attrs["odometer"], "1234.5"},
		{"event", f.Attrs["event"], "motionchange"},
		{"activity", f.Attrs["activity"], "walking"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeJSONVariants(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(f fix.Fix) bool
	}{
		{"unknowns omitted", `{"device_id":"a","location":{"timestamp":"2026-03-01T10:00:00Z","coords":{"latitude":1,"longitude":2,"speed":-1,"heading":-1,"accuracy":-1},"battery":{"level":-1}}}`,
			func(f fix.Fix) bool { return f.Speed == nil && f.Heading == nil && f.Acc == nil && f.Battery == nil }},
		{"no timestamp uses now", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2}}}`,
			func(f fix.Fix) bool { return f.TS.Equal(now) && f.Attrs == nil }},
		{"heading 360 is north", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2,"heading":360}}}`,
			func(f fix.Fix) bool { return *f.Heading == 0 }},
		{"null optional", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2,"altitude":null}}}`,
			func(f fix.Fix) bool { return f.Alt == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := DecodeJSON([]byte(tt.body), now)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f) {
				t.Errorf("unexpected fix %+v", f)
			}
		})
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct{ name, body, field string }{
		{"malformed", `{"device_id":`, "body"},
		{"trailing", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2}}} x`, "body"},
		{"array", `[]`, "body"},
		{"no device", `{"location":{"coords":{"latitude":1,"longitude":2}}}`, "device_id"},
		{"bad device", `{"device_id":"a b","location":{"coords":{"latitude":1,"longitude":2}}}`, "device_id"},
		{"device number", `{"device_id":5,"location":{}}`, "device_id"},
		{"no location", `{"device_id":"a"}`, "location"},
		{"location array", `{"device_id":"a","location":[]}`, "location"},
		{"no coords", `{"device_id":"a","location":{"timestamp":"2026-03-01T10:00:00Z"}}`, "location.coords"},
		{"no latitude", `{"device_id":"a","location":{"coords":{"longitude":2}}}`, "location.coords.latitude"},
		{"no longitude", `{"device_id":"a","location":{"coords":{"latitude":2}}}`, "location.coords.longitude"},
		{"latitude string", `{"device_id":"a","location":{"coords":{"latitude":"1","longitude":2}}}`, "location.coords.latitude"},
		{"speed overflow", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2,"speed":1e999}}}`, "location.coords.speed"},
		{"bad timestamp", `{"device_id":"a","location":{"timestamp":"soon","coords":{"latitude":1,"longitude":2}}}`, "location.timestamp"},
		{"battery over 1", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2},"battery":{"level":87}}}`, "location.battery.level"},
		{"is_charging string", `{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2},"battery":{"is_charging":"yes"}}}`, "location.battery.is_charging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.body), now)
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tt.field)
			}
		})
	}
}
