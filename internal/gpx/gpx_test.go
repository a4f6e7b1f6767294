package gpx

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/tracktest"
)

// garmin11 is a GPX 1.1 track as a Garmin device exports it.
const garmin11 = `<?xml version="1.0" encoding="UTF-8"?>
<gpx creator="Garmin Edge 530" version="1.1" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
 <metadata><time>2026-03-01T08:00:00Z</time></metadata>
 <wpt lat="47.1" lon="8.1"><name>Start &amp; finish</name></wpt>
 <trk><name>Morning Ride</name><trkseg>
  <trkpt lat="47.3769" lon="8.5417"><ele>408.2</ele><time>2026-03-01T08:00:00Z</time>
   <extensions><gpxtpx:TrackPointExtension><gpxtpx:atemp>6</gpxtpx:atemp><gpxtpx:hr>121</gpxtpx:hr><gpxtpx:cad>80</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions>
  </trkpt>
  <trkpt lat="47.3770" lon="8.5419"><ele>408.6</ele><time>2026-03-01T08:00:01.500Z</time></trkpt>
 </trkseg></trk>
</gpx>`

// gpx10 is a GPX 1.0 file with the speed and course elements 1.0 had.
const gpx10 = `<?xml version="1.0"?>
<gpx version="1.0" creator="GPSBabel" xmlns="http://www.topografix.com/GPX/1/0">
 <trk><trkseg>
  <trkpt lat="-33.8688" lon="151.2093"><ele>12</ele><time>2026-03-01T08:00:00Z</time><course>360</course><speed>4.5</speed><sat>9</sat><hdop>0.9</hdop></trkpt>
 </trkseg></trk>
</gpx>`

func TestDecode(t *testing.T) {
	fixes, err := Decode(strings.NewReader(garmin11), "bike-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(fixes) != 2 {
		t.Fatalf("got %d fixes, want 2 (untimed wpt skipped)", len(fixes))
	}
	first, second := fixes[0], fixes[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"device", first.Device, "bike-1"},
		{"lat", first.Lat, 47.3769},
		{"lon", first.Lon, 8.5417},
		{"ele", *first.Alt, 408.2},
		{"time", first.TS, time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)},
		{"hr", first.Attrs["hr"], "121"},
		{"cad", first.Attrs["cad"], "80"},
		{"atemp", first.Attrs["atemp"], "6"},
		{"ms time", second.TS, time.Date(2026, 3, 1, 8, 0, 1, 500e6, time.UTC)},
		{"no attrs", second.Attrs == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for i := range fixes {
		if err := fix.Validate(&fixes[i], time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Errorf("fix %d: %v", i, err)
		}
	}
}

func TestDecodeVariants(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(fs []fix.Fix) bool
	}{
		{"gpx 1.0 speed and course", gpx10, func(fs []fix.Fix) bool {
			if len(fs) != 1 {
				return false
			}
			f := fs[0]
			return *f.Speed == 4.5 && *f.Heading == 0 && f.Attrs["sat"] == "9" && f.Attrs["hdop"] == "0.9"
		}},
		{"no namespace", `<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Lat == 1 }},
		{"time without zone is UTC", `<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00</time></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool {
				return len(fs) == 1 && fs[0].TS.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
			}},
		{"time with offset", `<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T09:00:00+01:00</time></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool {
				return len(fs) == 1 && fs[0].TS.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
			}},
		{"timed route and waypoint in document order", `<gpx xmlns="http://www.topografix.com/GPX/1/1">
			<wpt lat="5" lon="6"><time>2026-03-01T07:00:00Z</time><name>Café</name></wpt>
			<rte><rtept lat="3" lon="4"><time>2026-03-01T07:30:00Z</time></rtept><rtept lat="3.1" lon="4"/></rte></gpx>`,
			func(fs []fix.Fix) bool {
				return len(fs) == 2 && fs[0].Lat == 5 && fs[0].Attrs["name"] == "Café" && fs[1].Lat == 3
			}},
		{"a track's waypoints are markers, not fixes", `<gpx xmlns="http://www.topografix.com/GPX/1/1">
			<wpt lat="5" lon="6"><time>2026-03-01T09:00:00Z</time><name>Lap 1</name></wpt>
			<trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Lat == 1 }},
		{"latin-1 charset", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><gpx><wpt lat=\"1\" lon=\"2\"><time>2026-03-01T08:00:00Z</time><name>Z\xfcrich</name></wpt></gpx>",
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Attrs["name"] == "Zürich" }},
		{"windows-1252 charset: 0x80-0x9F are printable", "<?xml version=\"1.0\" encoding=\"windows-1252\"?><gpx><wpt lat=\"1\" lon=\"2\"><time>2026-03-01T08:00:00Z</time><name>\x93Caf\xe9\x94 \x80 5 \x96 6</name></wpt></gpx>",
			func(fs []fix.Fix) bool {
				return len(fs) == 1 && fs[0].Attrs["name"] == "\u201cCafé\u201d € 5 \u2013 6"
			}},
		{"latin-1 charset: 0x80-0x9F are control codes", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><gpx><wpt lat=\"1\" lon=\"2\"><time>2026-03-01T08:00:00Z</time><name>a\x85b\xa9</name></wpt></gpx>",
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Attrs["name"] == "a\u0085b©" }},
		{"html entity in name", `<gpx><wpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time><name>a&nbsp;b</name></wpt></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Attrs["name"] == "a\u00a0b" }},
		{"foreign-namespace trkpt ignored", `<gpx xmlns="http://www.topografix.com/GPX/1/1" xmlns:x="urn:x"><metadata><extensions><x:trkpt lat="9" lon="9"/></extensions></metadata>
			<trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Lat == 1 }},
		{"negative speed unknown", `<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0"><trk><trkseg><trkpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time><speed>-1</speed><course>-1</course></trkpt></trkseg></trk></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 1 && fs[0].Speed == nil && fs[0].Heading == nil }},
		{"empty track", `<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg/></trk></gpx>`,
			func(fs []fix.Fix) bool { return len(fs) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Decode(strings.NewReader(tt.doc), "d", 0)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(fs) {
				t.Errorf("unexpected fixes %+v", fs)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	trk := func(pts string) string {
		return `<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>` + pts + `</trkseg></trk></gpx>`
	}
	ok := `<trkpt lat="1" lon="2"><time>2026-03-01T08:00:00Z</time></trkpt>`
	tests := []struct{ name, doc, field string }{
		{"empty", ``, "body"},
		{"not xml", `{"type":"FeatureCollection"}`, "body"},
		{"wrong root", `<kml><Placemark/></kml>`, "body"},
		{"unknown namespace", `<gpx xmlns="urn:other"/>`, "body"},
		{"truncated", `<gpx><trk><trkseg><trkpt lat="1" lon="2">`, "trkpt[0]"},
		{"unterminated", `<gpx><trk>`, "body"},
		{"trkpt without time", trk(ok + `<trkpt lat="1" lon="2"/>`), "trkpt[1].time"},
		{"bad time", trk(`<trkpt lat="1" lon="2"><time>yesterday</time></trkpt>`), "trkpt[0].time"},
		{"missing lat", trk(ok + ok + `<trkpt lon="2"><time>2026-03-01T08:00:00Z</time></trkpt>`), "trkpt[2].lat"},
		{"missing lon", trk(`<trkpt lat="2"><time>2026-03-01T08:00:00Z</time></trkpt>`), "trkpt[0].lon"},
		{"NaN lat", trk(`<trkpt lat="NaN" lon="2"><time>2026-03-01T08:00:00Z</time></trkpt>`), "trkpt[0].lat"},
		{"Inf lon", trk(`<trkpt lat="1" lon="+Inf"><time>2026-03-01T08:00:00Z</time></trkpt>`), "trkpt[0].lon"},
		{"bad ele", trk(`<trkpt lat="1" lon="2"><ele>high</ele><time>2026-03-01T08:00:00Z</time></trkpt>`), "trkpt[0].ele"},
		{"wpt bad lat", `<gpx><wpt lat="x" lon="2"><time>2026-03-01T08:00:00Z</time></wpt></gpx>`, "wpt[0].lat"},
		{"rtept bad time", `<gpx><rte><rtept lat="1" lon="2"><time>x</time></rtept></rte></gpx>`, "rtept[0].time"},
		{"only untimed waypoints", `<gpx><wpt lat="1" lon="2"/><rte><rtept lat="1" lon="2"/></rte></gpx>`, "body"},
		{"unsupported charset", `<?xml version="1.0" encoding="EBCDIC"?><gpx/>`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.doc), "d", 0)
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

func TestDecodeMax(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<gpx><trk><trkseg>`)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, `<trkpt lat="1" lon="2"><time>2026-03-01T08:00:0%dZ</time></trkpt>`, i)
	}
	b.WriteString(`</trkseg></trk></gpx>`)
	if fs, err := Decode(strings.NewReader(b.String()), "d", 5); err != nil || len(fs) != 5 {
		t.Errorf("at the limit: %d fixes, %v", len(fs), err)
	}
	_, err := Decode(strings.NewReader(b.String()), "d", 4)
	var fe *fix.FieldError
	if !errors.As(err, &fe) || fe.Field != "body" {
		t.Errorf("over the limit: got %v, want a body FieldError", err)
	}
}

func TestRoundTrip(t *testing.T) {
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	in := []fix.Fix{
		{Device: "d", TS: base.Add(123456789 * time.Nanosecond), Lat: 47.376887123456789, Lon: 8.541694, Alt: fix.Float(408.25)},
		{Device: "d", TS: base.Add(time.Second), Lat: -85.05112878, Lon: -180},
		{Device: "d", TS: base.Add(2 * time.Second), Lat: 1e-7, Lon: 179.9999999, Alt: fix.Float(-12.5)},
		{Device: "d", TS: base.In(time.FixedZone("CET", 3600)).Add(3 * time.Second), Lat: 0, Lon: 0, Alt: fix.Float(0)},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, `trk <"a"&'b'>`, in); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Creator string `xml:"creator,attr"`
		Version string `xml:"version,attr"`
		Name    string `xml:"trk>name"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("encoded GPX is not well-formed XML: %v\n%s", err, buf.String())
	}
	if doc.Creator != "geotrack" || doc.Version != "1.1" || doc.Name != `trk <"a"&'b'>` {
		t.Errorf("header %+v", doc)
	}
	out, err := Decode(&buf, "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	tracktest.AssertSameFixes(t, in, out)
}

func TestEncodeEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, "d", nil); err != nil {
		t.Fatal(err)
	}
	if fs, err := Decode(&buf, "d", 0); err != nil || len(fs) != 0 {
		t.Errorf("empty track: %v, %v", fs, err)
	}
	bad := []fix.Fix{
		{TS: time.Now(), Lat: math.NaN()},
		{TS: time.Now(), Lon: math.Inf(1)},
		{TS: time.Now(), Alt: fix.Float(math.NaN())},
	}
	for _, f := range bad {
		if err := Encode(&bytes.Buffer{}, "d", []fix.Fix{f}); err == nil {
			t.Errorf("non-finite fix %+v encoded without error", f)
		}
	}
}
