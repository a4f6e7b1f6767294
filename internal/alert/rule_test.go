package alert

import (
	"errors"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

const goodURL = `"webhook":{"url":"https://hooks.example.com/geo"}`

func TestDecodeRuleAccepts(t *testing.T) {
	cases := []struct {
		name, doc string
		kind      Kind
	}{
		{"geofence entered", `{"name":"depot","on":["io.geotrack.geofence.entered"],"fences":["f1"],` + goodURL + `}`, KindEvent},
		{"speeding", `{"name":"fast","on":["io.geotrack.location.updated"],"when":{"speed_above":30,"for_s":10},"cooldown_s":600,` + goodURL + `}`, KindSpeed},
		{"battery", `{"name":"low","on":["io.geotrack.location.updated"],"when":{"battery_below":0.15},` + goodURL + `}`, KindBattery},
		{"sos", `{"name":"sos","on":["io.geotrack.location.updated"],"devices":["d1"],"when":{"flag":"alarm"},` + goodURL + `}`, KindFlag},
		{"silence", `{"name":"quiet","on":["io.geotrack.location.updated"],"when":{"silent_s":600},` + goodURL + `}`, KindSilence},
		{"trips", `{"name":"trips","on":["io.geotrack.trip.started","io.geotrack.stop.started"],"devices":["d1"],` + goodURL + `}`, KindEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRule([]byte(tc.doc), URLPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind() != tc.kind {
				t.Errorf("kind %s, want %s", r.Kind(), tc.kind)
			}
			if r.Webhook.Secret != "" {
				t.Errorf("secret %q invented by the decoder", r.Webhook.Secret)
			}
		})
	}
}

func TestDecodeRuleRefuses(t *testing.T) {
	loc := `"on":["io.geotrack.location.updated"]`
	cases := []struct{ name, doc, field string }{
		{"empty body", ``, "body"},
		{"not JSON", `{"name":`, "body"},
		{"array", `[]`, "body"},
		{"trailing data", `{"name":"a","on":["io.geotrack.geofence.entered"],` + goodURL + `} {}`, "body"},
		{"unknown field", `{"name":"a","colour":"red","on":["io.geotrack.geofence.entered"],` + goodURL + `}`, "colour"},
		{"id given", `{"id":"r1","name":"a","on":["io.geotrack.geofence.entered"],` + goodURL + `}`, "id"},
		{"no name", `{"on":["io.geotrack.geofence.entered"],` + goodURL + `}`, "name"},
		{"name wrong type", `{"name":5,"on":["io.geotrack.geofence.entered"],` + goodURL + `}`, "name"},
		{"long name", `{"name":"` + strings.Repeat("x", 201) + `","on":["io.geotrack.geofence.entered"],` + goodURL + `}`, "name"},
		{"no on", `{"name":"a",` + goodURL + `}`, "on"},
		{"unknown type", `{"name":"a","on":["io.geotrack.nope"],` + goodURL + `}`, "on[0]"},
		{"type twice", `{"name":"a","on":["io.geotrack.geofence.entered","io.geotrack.geofence.entered"],` + goodURL + `}`, "on[1]"},
		{"empty device", `{"name":"a","on":["io.geotrack.geofence.entered"],"devices":[""],` + goodURL + `}`, "devices[0]"},
		{"empty fence", `{"name":"a","on":["io.geotrack.geofence.entered"],"fences":["f",""],` + goodURL + `}`, "fences[1]"},
		{"location without when", `{"name":"a",` + loc + `,` + goodURL + `}`, "when"},
		{"two conditions", `{"name":"a",` + loc + `,"when":{"speed_above":3,"flag":"alarm"},` + goodURL + `}`, "when"},
		{"condition on geofence", `{"name":"a","on":["io.geotrack.geofence.entered"],"when":{"flag":"alarm"},` + goodURL + `}`, "on"},
		{"fences on location", `{"name":"a",` + loc + `,"fences":["f"],"when":{"flag":"alarm"},` + goodURL + `}`, "fences"},
		{"fences on trips", `{"name":"a","on":["io.geotrack.geofence.entered","io.geotrack.trip.started"],"fences":["f"],` + goodURL + `}`, "fences"},
		{"for_s without speed", `{"name":"a",` + loc + `,"when":{"flag":"alarm","for_s":3},` + goodURL + `}`, "when.for_s"},
		{"negative speed", `{"name":"a",` + loc + `,"when":{"speed_above":-1},` + goodURL + `}`, "when.speed_above"},
		{"negative for_s", `{"name":"a",` + loc + `,"when":{"speed_above":1,"for_s":-1},` + goodURL + `}`, "when.for_s"},
		{"battery as percent", `{"name":"a",` + loc + `,"when":{"battery_below":20},` + goodURL + `}`, "when.battery_below"},
		{"flag with space", `{"name":"a",` + loc + `,"when":{"flag":"a b"},` + goodURL + `}`, "when.flag"},
		{"silence too short", `{"name":"a",` + loc + `,"when":{"silent_s":1},` + goodURL + `}`, "when.silent_s"},
		{"when wrong type", `{"name":"a",` + loc + `,"when":[],` + goodURL + `}`, "when"},
		{"negative cooldown", `{"name":"a","on":["io.geotrack.geofence.entered"],"cooldown_s":-5,` + goodURL + `}`, "cooldown_s"},
		{"no webhook", `{"name":"a","on":["io.geotrack.geofence.entered"]}`, "webhook.url"},
		{"http webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"http://hooks.example.com/"}}`, "webhook.url"},
		{"loopback webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://127.0.0.1/"}}`, "webhook.url"},
		{"metadata webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://169.254.169.254/latest"}}`, "webhook.url"},
		{"private webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://10.1.2.3/"}}`, "webhook.url"},
		{"localhost webhook", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://localhost:8443/"}}`, "webhook.url"},
		{"credentials in URL", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://u:p@hooks.example.com/"}}`, "webhook.url"},
		{"secret without prefix", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://h.example.com/","secret":"abc"}}`, "webhook.secret"},
		{"secret too short", `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://h.example.com/","secret":"whsec_YWJj"}}`, "webhook.secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRule([]byte(tc.doc), URLPolicy{})
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a field error", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tc.field)
			}
		})
	}
}

func TestAllowPrivateLiftsSchemeAndAddress(t *testing.T) {
	doc := `{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"http://127.0.0.1:9999/hook"}}`
	if _, err := DecodeRule([]byte(doc), URLPolicy{AllowPrivate: true}); err != nil {
		t.Fatal(err)
	}
}

func TestNewSecretIsUsable(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if key, err := SecretKey(s); err != nil || len(key) != 32 {
		t.Fatalf("secret %q: key of %d bytes, %v", s, len(key), err)
	}
}

func TestRedactedHidesSecret(t *testing.T) {
	r := Rule{Webhook: Webhook{URL: "https://x", Secret: "whsec_x"}}
	if r.Redacted().Webhook.Secret != "" || r.Webhook.Secret == "" {
		t.Fatal("Redacted must clear the copy's secret only")
	}
}
