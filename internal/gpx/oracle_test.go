package gpx

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

type trkpt struct {
	XMLName xml.Name `xml:"trkpt"`
	Lat     string   `xml:"lat,attr"`
	Lon     string   `xml:"lon,attr"`
	Ele     string   `xml:"ele,omitempty"`
	Time    string   `xml:"time"`
}

// encodeWithXMLEncoder is the encoder Encode replaced, kept as the
// reference of the bytes geotrack serves. It writes fixes, in the order given, as a GPX 1.1 document with
// creator "geotrack" and one trk named after device holding one trkseg.
// Coordinates use the shortest decimal that reads back to the same float64,
// times fix.FormatTime (RFC 3339, ms, UTC), so Decode returns the same lat,
// lon, ele and ms-truncated time. Only those are written: GPX 1.1 has no
// place for speed, heading, accuracy or battery outside extensions.
// Points are streamed, so long tracks do not build a document in memory.
// A fix with a non-finite coordinate is an error (GPX cannot express it).
func encodeWithXMLEncoder(w io.Writer, device string, fixes []fix.Fix) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write gpx header: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	gpx := xml.StartElement{Name: xml.Name{Local: "gpx"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "version"}, Value: "1.1"},
		{Name: xml.Name{Local: "creator"}, Value: "geotrack"},
		{Name: xml.Name{Local: "xmlns"}, Value: NamespaceGPX11},
	}}
	trk := xml.StartElement{Name: xml.Name{Local: "trk"}}
	seg := xml.StartElement{Name: xml.Name{Local: "trkseg"}}
	for _, tok := range []xml.Token{gpx, trk} {
		if err := enc.EncodeToken(tok); err != nil {
			return fmt.Errorf("encode gpx: %w", err)
		}
	}
	if err := enc.EncodeElement(device, xml.StartElement{Name: xml.Name{Local: "name"}}); err != nil {
		return fmt.Errorf("encode gpx track name: %w", err)
	}
	if err := enc.EncodeToken(seg); err != nil {
		return fmt.Errorf("encode gpx: %w", err)
	}
	for i, f := range fixes {
		p, err := toTrkpt(f)
		if err != nil {
			return fmt.Errorf("encode gpx fix %d: %w", i, err)
		}
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("encode gpx fix %d: %w", i, err)
		}
	}
	for _, end := range []xml.EndElement{seg.End(), trk.End(), gpx.End()} {
		if err := enc.EncodeToken(end); err != nil {
			return fmt.Errorf("encode gpx: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode gpx: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write gpx: %w", err)
	}
	return nil
}

func toTrkpt(f fix.Fix) (trkpt, error) {
	if !finite(f.Lat) || !finite(f.Lon) {
		return trkpt{}, fmt.Errorf("lat/lon %g,%g is not finite", f.Lat, f.Lon)
	}
	p := trkpt{Lat: formatFloat(f.Lat), Lon: formatFloat(f.Lon), Time: fix.FormatTime(f.TS)}
	if f.Alt != nil {
		if !finite(*f.Alt) {
			return trkpt{}, fmt.Errorf("alt %g is not finite", *f.Alt)
		}
		p.Ele = formatFloat(*f.Alt)
	}
	return p, nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestEncodeIsByteIdenticalToTheXMLEncoder: the streaming writer serves
// the same bytes as the encoding/xml encoder it replaced.
func TestEncodeIsByteIdenticalToTheXMLEncoder(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	var long []fix.Fix
	for i := range 5000 { // several flushes
		long = append(long, fix.Fix{TS: ts.Add(time.Duration(i) * time.Second), Lat: 47.1234567 + float64(i)*1e-5, Lon: -8.7654321, Alt: fix.Float(float64(i) / 3)})
	}
	cases := []struct {
		name   string
		device string
		fixes  []fix.Fix
	}{
		{"empty", "d1", nil},
		{"one", "d1", []fix.Fix{{TS: ts, Lat: 51.5, Lon: -0.12}}},
		{"alt and tiny and huge values", "d1", []fix.Fix{{TS: ts, Lat: 1e-7, Lon: -180, Alt: fix.Float(-0.5)}, {TS: ts, Lat: 0, Lon: 1e-9, Alt: fix.Float(1e22)}}},
		{"escaped name", `a<b>&"c'` + "\t", []fix.Fix{{TS: ts, Lat: 1, Lon: 2}}},
		{"long", "dev-1", long},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := Encode(&got, tc.device, tc.fixes); err != nil {
				t.Fatal(err)
			}
			if err := encodeWithXMLEncoder(&want, tc.device, tc.fixes); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("got\n%.600s\nwant\n%.600s", got.Bytes(), want.Bytes())
			}
		})
	}
}

// TestEncodeRefusesNonFiniteValues as the reference encoder did.
func TestEncodeRefusesNonFiniteValues(t *testing.T) {
	for _, f := range []fix.Fix{{Lat: math.NaN()}, {Lon: math.Inf(1)}, {Alt: fix.Float(math.NaN())}} {
		if err := Encode(io.Discard, "d1", []fix.Fix{{Lat: 1}, f}); err == nil || !strings.Contains(err.Error(), "encode gpx fix 1") {
			t.Errorf("%+v: error %v", f, err)
		}
	}
}
