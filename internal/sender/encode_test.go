package sender

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// AppendFix must produce the document json.Marshal produces: decoding
// either gives the same fix.
func TestAppendFixMatchesMarshal(t *testing.T) {
	fixes := append(testFixes(20),
		fix.Fix{Device: "x", TS: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 3600)), Lat: -1e-9, Lon: 179.99999999},
		fix.Fix{Device: `we"ird\dev`, TS: time.Unix(0, 0), Lat: 1e21, Lon: -0, Attrs: map[string]string{"a\nb": "\u2028"}},
	)
	for _, f := range fixes {
		fast, err := AppendFix(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		a, errA := fix.Decode(fast, "")
		b, errB := fix.Decode(slow, "")
		if errA != nil || errB != nil {
			t.Fatalf("decode: %v / %v\n%s", errA, errB, fast)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("AppendFix gives %+v, json.Marshal %+v", a, b)
		}
	}
}

func TestAppendFixRefusesNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := AppendFix(nil, fix.Fix{Device: "d", TS: time.Now(), Speed: fix.Float(v)}); err == nil || !strings.Contains(err.Error(), "speed") {
			t.Errorf("speed %g: err = %v", v, err)
		}
	}
}

func TestEventIDIsDeterministic(t *testing.T) {
	f := testFixes(1)[0]
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"same fix", EventID("s", f), EventID("s", f), true},
		{"other source", EventID("s", f), EventID("t", f), false},
		{"other time", EventID("s", f), EventID("s", fix.Fix{Device: f.Device, TS: f.TS.Add(time.Millisecond)}), false},
		{"other device", EventID("s", f), EventID("s", fix.Fix{Device: "zz", TS: f.TS}), false},
		{"sub-ms time is not on the wire", EventID("s", f), EventID("s", fix.Fix{Device: f.Device, TS: f.TS.Add(time.Microsecond)}), true},
	}
	for _, c := range cases {
		if (c.a == c.b) != c.same {
			t.Errorf("%s: %s vs %s, want same=%v", c.name, c.a, c.b, c.same)
		}
	}
}

// FuzzAppendFix checks that any fix the encoder accepts comes out as JSON
// that decodes back to the same fix (at millisecond precision), and that the
// result passes fix.Validate exactly when the input does.
func FuzzAppendFix(f *testing.F) {
	f.Add("dev-1", int64(1767225600123), 51.5, -0.12, 3.0, 1.5, 0.5, "k", "v")
	f.Add(`"quote"`, int64(0), 90.0, 180.0, -1.0, 360.0, 2.0, "", "")
	f.Add("ünï\x00", int64(-5), math.Inf(1), math.NaN(), 1e300, -0.0, 1e-300, "<&>", "\u2028")
	f.Fuzz(func(t *testing.T, device string, ms int64, lat, lon, acc, heading, battery float64, k, v string) {
		in := fix.Fix{Device: device, TS: time.UnixMilli(ms).UTC(), Lat: lat, Lon: lon,
			Acc: fix.Float(acc), Heading: fix.Float(heading), Battery: fix.Float(battery)}
		if k != "" {
			in.Attrs = map[string]string{k: v}
		}
		out, err := AppendFix(nil, in)
		finite := !math.IsNaN(lat+lon+acc+heading+battery) && !math.IsInf(lat+lon+acc+heading+battery, 0)
		if err != nil {
			if finite {
				t.Fatalf("finite fix refused: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
		if year := in.TS.Year(); year < 0 || year > 9999 {
			return // RFC 3339 cannot carry the year; the server rejects it as ts
		}
		got, err := fix.Decode(out, "")
		if err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		if !strings.ContainsRune(device, '\uFFFD') && isUTF8(device) && isUTF8(k) && isUTF8(v) {
			if !reflect.DeepEqual(got, in) {
				t.Fatalf("round trip %+v -> %s -> %+v", in, out, got)
			}
		}
		now := time.Now()
		if (fix.Validate(&got, now) == nil) != (fix.Validate(&in, now) == nil) && isUTF8(device) {
			t.Fatalf("validation differs after the round trip: %v vs %v", fix.Validate(&got, now), fix.Validate(&in, now))
		}
	})
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

func BenchmarkEncodeBatch1000(b *testing.B) {
	fixes := testFixes(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encode(ModeBatch, DefaultSource, fixes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(fixes))/b.Elapsed().Seconds(), "fixes/s")
}

func BenchmarkMarshalBatch1000(b *testing.B) {
	fixes := testFixes(1000)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fixes {
			if _, err := json.Marshal(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(fixes))/b.Elapsed().Seconds(), "fixes/s")
}
