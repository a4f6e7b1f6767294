package gpx

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/tracktest"
)

func FuzzDecode(f *testing.F) {
	for _, doc := range []string{
		garmin11,
		gpx10,
		`<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00</time></trkpt></trkseg></trk></gpx>`,
		`<gpx><wpt lat="1" lon="2"/><rte><rtept lat="1" lon="2"><time>2026-03-01T08:00:00+05:30</time></rtept></rte></gpx>`,
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><gpx><wpt lat=\"1\" lon=\"2\"><time>2026-03-01T08:00:00Z</time><name>Z\xfcrich&nbsp;</name></wpt></gpx>",
		`<gpx><trk><trkseg><trkpt lat="NaN" lon="1e999"><ele>Inf</ele><time>2026-03-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>`,
		`<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg><trkpt lat="91" lon="-181"><time>9999-12-31T23:59:59.999999999-23:59</time><speed>-0</speed><course>1e308</course></trkpt></trkseg></trk></gpx>`,
		`<!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx><wpt lat="1" lon="2"><name>&a;</name></wpt></gpx>`,
	} {
		f.Add([]byte(doc))
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		fixes, err := Decode(bytes.NewReader(data), "dev-1", 1000)
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v is not a FieldError naming a field", err)
			}
			return
		}
		if len(fixes) > 1000 {
			t.Fatalf("%d fixes over the cap", len(fixes))
		}
		var valid []fix.Fix
		for _, fx := range fixes {
			checkFix(t, fx)
			if fix.Validate(&fx, now) == nil {
				valid = append(valid, fx)
			}
		}
		// Whatever validates must survive Encode → Decode unchanged.
		var buf bytes.Buffer
		if err := Encode(&buf, "dev-1", valid); err != nil {
			t.Fatalf("encode valid fixes: %v", err)
		}
		back, err := Decode(&buf, "dev-1", 1000)
		if err != nil {
			t.Fatalf("decode own output: %v\n%s", err, buf.String())
		}
		tracktest.AssertSameFixes(t, valid, back)
	})
}

// checkFix asserts a decoded fix has a time and only finite numbers, with
// optional values already in range: NaN must never reach fix.Validate.
func checkFix(t *testing.T, f fix.Fix) {
	t.Helper()
	if f.TS.IsZero() || f.Device != "dev-1" {
		t.Fatalf("bad ts or device in %+v", f)
	}
	for _, v := range []*float64{&f.Lat, &f.Lon, f.Alt, f.Acc, f.Speed, f.Heading, f.Battery} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			t.Fatalf("non-finite number in %+v", f)
		}
	}
	if f.Speed != nil && *f.Speed < 0 || f.Heading != nil && (*f.Heading < 0 || *f.Heading >= 360) {
		t.Fatalf("out-of-range optional value in %+v", f)
	}
}
