package fix

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDecodeAndValidate(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		subject string
		field   string // "" = valid
	}{
		{"full", `{"device":"truck-7","ts":"2026-11-25T10:00:00.250Z","lat":51.5,"lon":-0.12,"alt":30,"acc":5,"speed":12.3,"heading":270,"battery":0.8,"attrs":{"k":"v"}}`, "", ""},
		{"device from subject", `{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "dev-1", ""},
		{"explicit device beats subject", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "b", ""},
		{"offset time", `{"device":"a","ts":"2026-11-25T11:00:00+01:00","lat":1,"lon":2}`, "", ""},
		{"lat at GEO limit", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":85.05112878,"lon":180}`, "", ""},
		{"lat over GEO limit", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":85.0511288,"lon":0}`, "", "lat"},
		{"lat -91", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":-91,"lon":0}`, "", "lat"},
		{"lon -180.1", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":0,"lon":-180.1}`, "", "lon"},
		{"no device", `{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "", "device"},
		{"bad device", `{"device":"a b","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "", "device"},
		{"no ts", `{"device":"a","lat":1,"lon":2}`, "", "ts"},
		{"ts wrong type", `{"device":"a","ts":1700000000,"lat":1,"lon":2}`, "", "ts"},
		{"ts 25h ahead", `{"device":"a","ts":"2026-11-26T13:00:01Z","lat":1,"lon":2}`, "", "ts"},
		{"ts 23h ahead ok", `{"device":"a","ts":"2026-11-26T11:00:00Z","lat":1,"lon":2}`, "", ""},
		{"no lat", `{"device":"a","ts":"2026-11-25T10:00:00Z","lon":2}`, "", "lat"},
		{"no lon", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":2}`, "", "lon"},
		{"lat string", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":"1","lon":2}`, "", "lat"},
		{"negative acc", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"acc":-0.1}`, "", "acc"},
		{"negative speed", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"speed":-1}`, "", "speed"},
		{"heading 360", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"heading":360}`, "", "heading"},
		{"heading 359.9", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"heading":359.9}`, "", ""},
		{"battery 1.01", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"battery":1.01}`, "", "battery"},
		{"attrs not strings", `{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"k":1}}`, "", "attrs"},
		{"tenant", `{"device":"a","tenant":"x","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "", "tenant"},
		{"array instead of object", `[1]`, "", "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode([]byte(tc.in), tc.subject)
			if err == nil {
				err = Validate(&f, now)
			}
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			if fe.Field != tc.field {
				t.Fatalf("field %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
}

func TestValidateRejectsNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		f := Fix{Device: "a", TS: now, Lat: v, Lon: 0}
		if err := Validate(&f, now); err == nil || !strings.HasPrefix(err.Error(), "lat:") {
			t.Fatalf("lat %v: %v", v, err)
		}
		f = Fix{Device: "a", TS: now, Lat: 0, Lon: 0, Speed: Float(v)}
		if err := Validate(&f, now); err == nil || !strings.HasPrefix(err.Error(), "speed:") {
			t.Fatalf("speed %v: %v", v, err)
		}
	}
}

func TestLatitudeMessageNamesRedisLimit(t *testing.T) {
	f := Fix{Device: "a", TS: now, Lat: 86}
	err := Validate(&f, now)
	if err == nil || !strings.Contains(err.Error(), "Redis GEO") {
		t.Fatalf("got %v", err)
	}
}

func TestSplitBatch(t *testing.T) {
	cases := []struct {
		in      string
		n       int
		errPart string
	}{
		{`{"a":1}`, 1, ""},
		{` [ {"a":1}, {"b":2} ] `, 2, ""},
		{``, 0, "empty"},
		{`[]`, 0, "empty array"},
		{`{"a":`, 0, "malformed"},
		{`"x"`, 0, "expected"},
		{`[1,`, 0, "malformed"},
	}
	for _, tc := range cases {
		items, err := SplitBatch([]byte(tc.in))
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.errPart)
			}
			continue
		}
		if err != nil || len(items) != tc.n {
			t.Errorf("%q: %d items, %v", tc.in, len(items), err)
		}
	}
	big := "[" + strings.Repeat(`{},`, MaxBatch) + `{}]`
	if _, err := SplitBatch([]byte(big)); err == nil || !strings.Contains(err.Error(), "10001") {
		t.Fatalf("10001 fixes: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := Fix{Device: "d", TS: time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.FixedZone("x", 3600)),
		Lat: 1.5, Lon: -2.25, Acc: Float(4), Attrs: map[string]string{"k": "v"}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"ts":"2026-01-02T02:04:05.678Z"`) {
		t.Fatalf("ts not UTC ms: %s", data)
	}
	out, err := Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if !out.TS.Equal(in.TS) || out.Lat != in.Lat || *out.Acc != 4 || out.Attrs["k"] != "v" {
		t.Fatalf("round trip: %+v", out)
	}
}

// FuzzDecode: no input panics; whatever decodes and validates is finite,
// in range and re-encodes to something that decodes to the same fix.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"device":"truck-7","ts":"2026-11-25T10:00:00.250Z","lat":51.5,"lon":-0.12,"alt":30,"acc":5,"speed":12.3,"heading":270,"battery":0.8,"attrs":{"k":"v"}}`,
		`{"ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`,
		`{"device":"a","ts":"2026-11-25T10:00:00Z","lat":1e400,"lon":2}`,
		`{"device":"a","tenant":"t"}`,
		`[{"device":"a"}]`, `{`, `null`, `{"lat":null}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "subj")
	}
	f.Fuzz(func(t *testing.T, data []byte, subject string) {
		items, err := SplitBatch(data)
		if err != nil {
			return
		}
		for _, raw := range items {
			fx, err := Decode(raw, subject)
			if err != nil {
				continue
			}
			if Validate(&fx, now) != nil {
				continue
			}
			if math.IsNaN(fx.Lat) || math.Abs(fx.Lat) > MaxLat || math.Abs(fx.Lon) > 180 || !ValidDevice(fx.Device) {
				t.Fatalf("validated fix out of range: %+v", fx)
			}
			enc, err := json.Marshal(fx)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			back, err := Decode(enc, "")
			if err != nil || back.Device != fx.Device || back.Lat != fx.Lat || back.Lon != fx.Lon {
				t.Fatalf("re-decode %s: %+v %v", enc, back, err)
			}
		}
	})
}

// reflectJSON is the reflection-based encoding AppendJSON must reproduce.
func reflectJSON(f Fix) ([]byte, error) {
	type plain struct {
		Device  string            `json:"device"`
		TS      string            `json:"ts"`
		Lat     float64           `json:"lat"`
		Lon     float64           `json:"lon"`
		Alt     *float64          `json:"alt,omitempty"`
		Acc     *float64          `json:"acc,omitempty"`
		Speed   *float64          `json:"speed,omitempty"`
		Heading *float64          `json:"heading,omitempty"`
		Battery *float64          `json:"battery,omitempty"`
		Attrs   map[string]string `json:"attrs,omitempty"`
	}
	return json.Marshal(plain{f.Device, FormatTime(f.TS), f.Lat, f.Lon, f.Alt, f.Acc, f.Speed, f.Heading, f.Battery, f.Attrs})
}

// FuzzAppendJSON: the hand-written encoder equals encoding/json's output.
func FuzzAppendJSON(f *testing.F) {
	f.Add("truck-7", int64(1764064800250), 51.5, -0.12, 30.0, 1e-7, 1e21, "k", "v<&>\"\\\n\u2028\xff")
	f.Add("", int64(0), 0.0, 0.0, -0.0, 123456789.123, 5e-324, "", "")
	f.Fuzz(func(t *testing.T, device string, ms int64, lat, lon, alt, acc, speed float64, k, v string) {
		fx := Fix{Device: device, TS: time.UnixMilli(ms % 253402300799000), Lat: lat, Lon: lon, Alt: &alt, Acc: &acc, Speed: &speed}
		if k != "" {
			fx.Attrs = map[string]string{k: v, "z" + k: v + k}
		}
		for _, x := range []float64{lat, lon, alt, acc, speed} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return // not JSON; validation rejects them
			}
		}
		if got, want := FormatTime(fx.TS), fx.TS.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Fatalf("FormatTime %s, want %s", got, want)
		}
		want, err := reflectJSON(fx)
		if err != nil {
			t.Skip("not encodable by encoding/json")
		}
		if got := fx.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON\n got %s\nwant %s", got, want)
		}
	})
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 25, 10, 0, 0, 250_000_000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("x", -3600)),
		time.Date(2026, 2, 3, 4, 5, 6, 7_000_001, time.FixedZone("y", 5*3600+1800)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, tm := range times {
		want := tm.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := string(AppendTime(nil, tm)); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
