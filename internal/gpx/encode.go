package gpx

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/geotrack/geotrack/internal/fix"
)

type trkpt struct {
	XMLName xml.Name `xml:"trkpt"`
	Lat     string   `xml:"lat,attr"`
	Lon     string   `xml:"lon,attr"`
	Ele     string   `xml:"ele,omitempty"`
	Time    string   `xml:"time"`
}

// Encode writes fixes, in the order given, as a GPX 1.1 document with
// creator "geotrack" and one trk named after device holding one trkseg.
// Coordinates use the shortest decimal that reads back to the same float64,
// times fix.FormatTime (RFC 3339, ms, UTC), so Decode returns the same lat,
// lon, ele and ms-truncated time. Only those are written: GPX 1.1 has no
// place for speed, heading, accuracy or battery outside extensions.
// Points are streamed, so long tracks do not build a document in memory.
// A fix with a non-finite coordinate is an error (GPX cannot express it).
func Encode(w io.Writer, device string, fixes []fix.Fix) error {
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

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
