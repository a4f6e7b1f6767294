// Package gpx reads GPX 1.0/1.1 tracks into fixes and writes fixes as a
// GPX 1.1 track. It is pure domain code: callers pass readers and writers.
package gpx

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// GPX namespaces; a document without a namespace is read as well.
const (
	NamespaceGPX11 = "http://www.topografix.com/GPX/1/1"
	NamespaceGPX10 = "http://www.topografix.com/GPX/1/0"
)

// point is any of wpt, rtept and trkpt (GPX's wptType). Numbers stay strings
// so that absence and NaN can be reported by field.
type point struct {
	Lat    *string `xml:"lat,attr"`
	Lon    *string `xml:"lon,attr"`
	Ele    *string `xml:"ele"`
	Time   *string `xml:"time"`
	Name   string  `xml:"name"`
	Sat    string  `xml:"sat"`
	HDOP   string  `xml:"hdop"`
	Speed  *string `xml:"speed"`  // GPX 1.0 only, m/s
	Course *string `xml:"course"` // GPX 1.0 only, degrees
	// Garmin TrackPointExtension, written by most sports devices and apps.
	HR    string `xml:"extensions>TrackPointExtension>hr"`
	Cad   string `xml:"extensions>TrackPointExtension>cad"`
	ATemp string `xml:"extensions>TrackPointExtension>atemp"`
}

// Decode reads the points of a GPX 1.1 or 1.0 document in document order:
// every trkpt or, in a document without a track, the rtept and wpt that
// carry a time. A track's waypoints are markers (laps, photos, POIs) that
// repeat track positions out of time order, so they are not fixes of it.
//
// A trkpt without a time is an error naming "trkpt[i].time" (i counts trkpt
// across the document from 0): a recorded track is a list of fixes and a
// silently dropped point would misrepresent it. rtept and wpt are usually
// planned routes and POIs without times, so untimed ones are skipped; if that
// leaves nothing although points were present, the error says so.
// max caps the number of fixes (max <= 0 means fix.MaxBatch). Attrs: name,
// sat, hdop and, from Garmin's TrackPointExtension, hr, cad, atemp; GPX 1.0
// speed (m/s) and course fill Speed and Heading. Other extensions are
// ignored. Errors are *fix.FieldError.
func Decode(r io.Reader, device string, max int) ([]fix.Fix, error) {
	if max <= 0 {
		max = fix.MaxBatch
	}
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charsetReader
	dec.Entity = xml.HTMLEntity // names exported from web tools contain &nbsp; and friends

	root, err := rootElement(dec)
	if err != nil {
		return nil, err
	}
	var (
		fixes   []fix.Fix // trkpt
		others  []fix.Fix // timed rtept and wpt
		counts  = map[string]int{}
		skipped int
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &fix.FieldError{Field: "body", Msg: "malformed XML: " + err.Error()}
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != root.Space {
			continue
		}
		kind := se.Name.Local
		if kind != "trkpt" && kind != "rtept" && kind != "wpt" {
			continue
		}
		idx := counts[kind]
		counts[kind]++
		name := fmt.Sprintf("%s[%d]", kind, idx)
		var p point
		if err := dec.DecodeElement(&p, &se); err != nil {
			return nil, &fix.FieldError{Field: name, Msg: "malformed XML: " + err.Error()}
		}
		if p.Time == nil && kind != "trkpt" {
			skipped++
			continue
		}
		if len(fixes) == max || len(others) == max {
			return nil, &fix.FieldError{Field: "body", Msg: fmt.Sprintf("more than %d points; the limit is %d", max, max)}
		}
		f, err := p.fix(name, device)
		if err != nil {
			return nil, err
		}
		if kind == "trkpt" {
			fixes = append(fixes, f)
		} else {
			others = append(others, f)
		}
	}
	if len(fixes) == 0 {
		fixes = others
	}
	if len(fixes) == 0 && skipped > 0 {
		return nil, &fix.FieldError{Field: "body", Msg: fmt.Sprintf("no trkpt, and none of the %d rtept/wpt has a time", skipped)}
	}
	return fixes, nil
}

// rootElement checks that the document is a GPX document and returns its
// name, whose namespace the points must share.
func rootElement(dec *xml.Decoder) (xml.Name, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.Name{}, &fix.FieldError{Field: "body", Msg: "empty: expected a GPX document"}
			}
			return xml.Name{}, &fix.FieldError{Field: "body", Msg: "malformed XML: " + err.Error()}
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local != "gpx":
			return xml.Name{}, &fix.FieldError{Field: "body", Msg: fmt.Sprintf("root element is <%s>, expected <gpx>", clip.String(se.Name.Local, 40))}
		case se.Name.Space != NamespaceGPX11 && se.Name.Space != NamespaceGPX10 && se.Name.Space != "":
			return xml.Name{}, &fix.FieldError{Field: "body", Msg: fmt.Sprintf("unknown GPX namespace %q", clip.String(se.Name.Space, 60))}
		}
		return se.Name, nil
	}
}

func (p point) fix(name, device string) (fix.Fix, error) {
	f := fix.Fix{Device: device}
	var err error
	if f.Lat, err = required(p.Lat, name+".lat"); err != nil {
		return fix.Fix{}, err
	}
	if f.Lon, err = required(p.Lon, name+".lon"); err != nil {
		return fix.Fix{}, err
	}
	if p.Time == nil {
		return fix.Fix{}, &fix.FieldError{Field: name + ".time", Msg: "required: every track point needs a time"}
	}
	if f.TS, err = parseTime(*p.Time); err != nil {
		return fix.Fix{}, &fix.FieldError{Field: name + ".time", Msg: err.Error()}
	}
	if f.Alt, err = optional(p.Ele, name+".ele"); err != nil {
		return fix.Fix{}, err
	}
	speed, err := optional(p.Speed, name+".speed")
	if err != nil {
		return fix.Fix{}, err
	}
	if speed != nil && *speed >= 0 {
		f.Speed = speed
	}
	course, err := optional(p.Course, name+".course")
	if err != nil {
		return fix.Fix{}, err
	}
	if course != nil && *course >= 0 {
		f.Heading = fix.Float(math.Mod(*course, 360))
	}
	f.Attrs = attrs(p)
	return f, nil
}

func attrs(p point) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"name": p.Name, "sat": p.Sat, "hdop": p.HDOP, "hr": p.HR, "cad": p.Cad, "atemp": p.ATemp} {
		if v = strings.TrimSpace(v); v != "" {
			out[k] = fix.ClipAttr(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func required(s *string, field string) (float64, error) {
	if s == nil {
		return 0, &fix.FieldError{Field: field, Msg: "required"}
	}
	v, err := parseFinite(*s)
	if err != nil {
		return 0, &fix.FieldError{Field: field, Msg: err.Error()}
	}
	return v, nil
}

func optional(s *string, field string) (*float64, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	v, err := parseFinite(*s)
	if err != nil {
		return nil, &fix.FieldError{Field: field, Msg: err.Error()}
	}
	return &v, nil
}

// parseFinite rejects NaN and ±Inf, which strconv.ParseFloat accepts but
// xsd:decimal does not.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite decimal", clip.String(s, 40))
	}
	return v, nil
}

// parseTime reads xsd:dateTime; a time without a zone is taken as UTC, which
// GPX prescribes and most writers mean.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := fix.ParseTime(s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)", clip.String(s, 40))
}
