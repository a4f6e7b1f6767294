package owntracks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// iosLocation is a location payload as the iOS app sends it in HTTP mode.
const iosLocation = `{"_type":"location","BSSID":"c8:0e:14:aa:bb:cc","SSID":"home","acc":5,"alt":38,` +
	`"batt":64,"bs":1,"cog":271,"conn":"w","created_at":1764064801,"inregions":["Home","Garage, left"],` +
	`"lat":48.85833,"lon":2.29513,"m":1,"t":"u","tid":"jp","topic":"owntracks/jane/phone","tst":1764064800,` +
	`"vac":3,"vel":36}`

func TestDecodeLocation(t *testing.T) {
	m, err := Decode([]byte(iosLocation), "jane", "iPhone")
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeLocation || m.Fix == nil {
		t.Fatalf("got type %q fix %v", m.Type, m.Fix)
	}
	f := *m.Fix
	if err := fix.Validate(&f, time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("decoded fix does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"device", f.Device, "jane:iPhone"},
		{"ts", f.TS, time.Unix(1764064800, 0).UTC()},
		{"lat", f.Lat, 48.85833},
		{"lon", f.Lon, 2.29513},
		{"alt", *f.Alt, 38.0},
		{"acc", *f.Acc, 5.0},
		{"speed m/s", *f.Speed, 10.0},
		{"heading", *f.Heading, 271.0},
		{"battery", *f.Battery, 0.64},
		{"attr tid", f.Attrs["tid"], "jp"},
		{"attr t", f.Attrs["t"], "u"},
		{"attr conn", f.Attrs["conn"], "w"},
		{"attr created_at keeps integer form", f.Attrs["created_at"], "1764064801"},
		{"attr bs", f.Attrs["bs"], "1"},
		{"attr vac", f.Attrs["vac"], "3"},
		{"attr SSID", f.Attrs["SSID"], "home"},
		{"attr BSSID", f.Attrs["BSSID"], "c8:0e:14:aa:bb:cc"},
		{"attr inregions as JSON", f.Attrs["inregions"], `["Home","Garage, left"]`},
		{"attr topic", f.Attrs["topic"], "owntracks/jane/phone"},
		{"raw keeps everything", m.Raw["m"] != nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDecodeConversions(t *testing.T) {
	base := `"_type":"location","lat":1,"lon":2,"tst":1764064800,"tid":"ab"`
	tests := []struct {
		name  string
		extra string
		check func(f fix.Fix) bool
	}{
		{"vel km/h to m/s", `"vel":90`, func(f fix.Fix) bool { return f.Speed != nil && *f.Speed == 25 }},
		{"vel -1 unknown", `"vel":-1`, func(f fix.Fix) bool { return f.Speed == nil }},
		{"cog -1 unknown", `"cog":-1`, func(f fix.Fix) bool { return f.Heading == nil }},
		{"cog 360 is north", `"cog":360`, func(f fix.Fix) bool { return f.Heading != nil && *f.Heading == 0 }},
		{"acc negative unknown", `"acc":-1`, func(f fix.Fix) bool { return f.Acc == nil }},
		{"batt percent", `"batt":100`, func(f fix.Fix) bool { return f.Battery != nil && *f.Battery == 1 }},
		{"batt -1 unknown", `"batt":-1`, func(f fix.Fix) bool { return f.Battery == nil }},
		{"negative alt kept", `"alt":-428`, func(f fix.Fix) bool { return f.Alt != nil && *f.Alt == -428 }},
		{"legacy string numbers", `"acc":"12","batt":"50"`, func(f fix.Fix) bool { return *f.Acc == 12 && *f.Battery == 0.5 }},
		{"legacy vacc", `"vacc":7`, func(f fix.Fix) bool { return f.Attrs["vac"] == "7" }},
		{"integer tst is seconds", `"x":0`, func(f fix.Fix) bool { return f.TS.Equal(time.Unix(1764064800, 0)) }},
		{"null optional ignored", `"alt":null`, func(f fix.Fix) bool { return f.Alt == nil }},
		{"unknown extras not in attrs", `"ubatt":12.1`, func(f fix.Fix) bool { _, ok := f.Attrs["ubatt"]; return !ok }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte("{"+base+","+tt.extra+"}"), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(*m.Fix) {
				t.Errorf("unexpected fix %+v", *m.Fix)
			}
		})
	}
}

func TestDecodeFractionalTST(t *testing.T) {
	m, err := Decode([]byte(`{"_type":"location","lat":1,"lon":2,"tst":1764064800.25,"tid":"ab"}`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.UnixMilli(1764064800250).UTC(); !m.Fix.TS.Equal(want) {
		t.Errorf("ts %v, want %v", m.Fix.TS, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, user, device, field string
	}{
		{"malformed", `{"_type":"location",`, "u", "d", "body"},
		{"trailing data", `{"_type":"lwt"} {}`, "u", "d", "body"},
		{"not an object", `"location"`, "u", "d", "body"},
		{"array needs DecodeAll", `[{"_type":"lwt"}]`, "u", "d", "body"},
		{"null", `null`, "u", "d", "body"},
		{"missing _type", `{"lat":1}`, "u", "d", "_type"},
		{"_type not string", `{"_type":5}`, "u", "d", "_type"},
		{"missing tst", `{"_type":"location","lat":1,"lon":2}`, "u", "d", "tst"},
		{"tst string garbage", `{"_type":"location","lat":1,"lon":2,"tst":"now"}`, "u", "d", "tst"},
		{"tst milliseconds", `{"_type":"location","lat":1,"lon":2,"tst":1764064800000}`, "u", "d", "tst"},
		{"tst zero", `{"_type":"location","lat":1,"lon":2,"tst":0}`, "u", "d", "tst"},
		{"missing lat", `{"_type":"location","lon":2,"tst":1764064800}`, "u", "d", "lat"},
		{"missing lon", `{"_type":"location","lat":2,"tst":1764064800}`, "u", "d", "lon"},
		{"lat bool", `{"_type":"location","lat":true,"lon":2,"tst":1764064800}`, "u", "d", "lat"},
		{"lat NaN string", `{"_type":"location","lat":"NaN","lon":2,"tst":1764064800}`, "u", "d", "lat"},
		{"lon Inf string", `{"_type":"location","lat":1,"lon":"-Inf","tst":1764064800}`, "u", "d", "lon"},
		{"lat overflow", `{"_type":"location","lat":1e400,"lon":2,"tst":1764064800}`, "u", "d", "lat"},
		{"acc array", `{"_type":"location","lat":1,"lon":2,"tst":1764064800,"acc":[1]}`, "u", "d", "acc"},
		{"batt over 100", `{"_type":"location","lat":1,"lon":2,"tst":1764064800,"batt":101}`, "u", "d", "batt"},
		{"no device at all", `{"_type":"location","lat":1,"lon":2,"tst":1764064800}`, "", "", "device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body), tt.user, tt.device)
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

func TestDecodeOtherTypes(t *testing.T) {
	bodies := map[string]string{
		"transition": `{"_type":"transition","wtst":1425042603,"lat":12.34,"lon":44.5,"tst":1427634603,"acc":130,"tid":"JP","event":"enter","desc":"restaurant","t":"b"}`,
		"waypoint":   `{"_type":"waypoint","desc":"Home","lat":1,"lon":2,"rad":50,"tst":1425042603}`,
		"waypoints":  `{"_type":"waypoints","waypoints":[{"_type":"waypoint","desc":"Home","tst":1}]}`,
		"lwt":        `{"_type":"lwt","tst":1380738247}`,
		"status":     `{"_type":"status","iOS":{"locked":false}}`,
		"card":       `{"_type":"card","name":"Jane","tid":"jp"}`,
		"cmd":        `{"_type":"cmd","action":"reportLocation"}`,
		"beacon":     `{"_type":"beacon","uuid":"x","major":1,"minor":2,"tst":1}`,
		"steps":      `{"_type":"steps","steps":10,"from":1,"to":2}`,
		"encrypted":  `{"_type":"encrypted","data":"AAAA"}`,
	}
	for typ, body := range bodies {
		t.Run(typ, func(t *testing.T) {
			m, err := Decode([]byte(body), "jane", "phone")
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != typ || m.Fix != nil || m.Raw == nil {
				t.Errorf("got %+v", m)
			}
		})
	}
}

func TestDecodeEmptyBody(t *testing.T) {
	for _, body := range []string{"", "  \n"} {
		m, err := Decode([]byte(body), "u", "d")
		if err != nil || m.Type != TypeEmpty || m.Fix != nil {
			t.Errorf("%q: got %+v, %v", body, m, err)
		}
	}
}

func TestDeviceID(t *testing.T) {
	tests := []struct {
		name, user, device, topic, tid, want string
	}{
		{"headers win", "jane", "phone", "owntracks/x/y", "jp", "jane:phone"},
		{"topic next", "", "", "owntracks/jane/phone", "jp", "jane:phone"},
		{"only user header falls back to topic", "jane", "", "owntracks/bob/tab", "jp", "bob:tab"},
		{"tid last", "", "", "", "jp", "jp"},
		{"short topic ignored", "", "", "owntracks/jane", "jp", "jp"},
		{"sanitised phone name", "jane", "Jane's iPhone", "", "", "jane:Jane_s_iPhone"},
		{"colon in part", "a:b", "c", "", "", "a_b:c"},
		{"unicode", "jürgen", "p", "", "", "j__rgen:p"},
		{"long cut to 128", strings.Repeat("u", 100), strings.Repeat("d", 100), "", "", strings.Repeat("u", 100) + ":" + strings.Repeat("d", 27)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeviceID(tt.user, tt.device, tt.topic, tt.tid)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !fix.ValidDevice(got) {
				t.Errorf("%q is not a valid device id", got)
			}
		})
	}
}

func TestDecodeAll(t *testing.T) {
	body := `[{"_type":"location","lat":1,"lon":2,"tst":1764064800,"tid":"ab"},{"_type":"lwt","tst":1}]`
	msgs, err := DecodeAll([]byte(body), "jane", "phone")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Fix == nil || msgs[1].Type != "lwt" {
		t.Fatalf("got %+v", msgs)
	}
	single, err := DecodeAll([]byte(`{"_type":"lwt"}`), "", "")
	if err != nil || len(single) != 1 || single[0].Type != "lwt" {
		t.Errorf("single object: %+v, %v", single, err)
	}
	empty, err := DecodeAll(nil, "", "")
	if err != nil || len(empty) != 0 {
		t.Errorf("empty body: %+v, %v", empty, err)
	}

	errTests := []struct{ body, field string }{
		{`[{"_type":"lwt"},{"_type":"location","lat":1,"lon":2,"tid":"x"}]`, "[1].tst"},
		{`[{"_type":"lwt"},5]`, "[1].body"},
		{`[{"_type":"lwt"}`, "body"},
		{"[" + strings.Repeat(`{"_type":"lwt"},`, fix.MaxBatch) + `{"_type":"lwt"}]`, "body"},
	}
	for _, tt := range errTests {
		_, err := DecodeAll([]byte(tt.body), "u", "d")
		var fe *fix.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%.40s: got %v, want field %q", tt.body, err, tt.field)
		}
	}
}

func TestAttrValuesClipped(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	m, err := Decode([]byte(`{"_type":"location","lat":1,"lon":2,"tst":1764064800,"tid":"ab","poi":"`+long+`"}`), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := fix.Validate(m.Fix, time.Now()); err != nil {
		t.Fatalf("long attr should be clipped, not rejected: %v", err)
	}
	if got := len(m.Fix.Attrs["poi"]); got != 1024 {
		t.Errorf("clipped to %d bytes, want 1024", got)
	}
}
