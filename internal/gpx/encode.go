package gpx

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/geotrack/geotrack/internal/fix"
)

// Encode writes fixes, in the order given, as a GPX 1.1 document with
// creator "geotrack" and one trk named after device holding one trkseg.
// Coordinates use the shortest decimal that reads back to the same float64,
// times fix.FormatTime (RFC 3339, ms, UTC), so Decode returns the same lat,
// lon, ele and ms-truncated time. Only those are written: GPX 1.1 has no
// place for speed, heading, accuracy or battery outside extensions.
// A fix with a non-finite coordinate is an error (GPX cannot express it).
func Encode(w io.Writer, device string, fixes []fix.Fix) error {
	tw := NewTrackWriter(w, device)
	for _, f := range fixes {
		if err := tw.Write(f); err != nil {
			return err
		}
	}
	return tw.Close()
}

// flushAt is how much a TrackWriter buffers before writing through.
const flushAt = 32 << 10

// TrackWriter writes the document Encode writes a fix at a time, so a
// track of any length is written in constant memory. Its output is byte
// for byte that of encoding/xml with one-space indentation (the format
// geotrack has always served; see the test's reference encoder).
type TrackWriter struct {
	w   io.Writer
	buf []byte
	n   int
	err error
}

// NewTrackWriter starts the document of device's track on w.
func NewTrackWriter(w io.Writer, device string) *TrackWriter {
	t := &TrackWriter{w: w, buf: make([]byte, 0, flushAt+512)}
	t.buf = append(t.buf, xml.Header...)
	t.buf = append(t.buf, `<gpx version="1.1" creator="geotrack" xmlns="`+NamespaceGPX11+`">`+"\n <trk>\n  <name>"...)
	var name bytes.Buffer
	_ = xml.EscapeText(&name, []byte(device)) // a bytes.Buffer does not fail
	t.buf = append(t.buf, name.Bytes()...)
	t.buf = append(t.buf, "</name>\n  <trkseg>"...)
	return t
}

// Write adds one point.
func (t *TrackWriter) Write(f fix.Fix) error {
	if t.err != nil {
		return t.err
	}
	if !finite(f.Lat) || !finite(f.Lon) {
		t.err = fmt.Errorf("encode gpx fix %d: lat/lon %g,%g is not finite", t.n, f.Lat, f.Lon)
		return t.err
	}
	if f.Alt != nil && !finite(*f.Alt) {
		t.err = fmt.Errorf("encode gpx fix %d: alt %g is not finite", t.n, *f.Alt)
		return t.err
	}
	t.n++
	b := append(t.buf, "\n   <trkpt lat=\""...)
	b = strconv.AppendFloat(b, f.Lat, 'f', -1, 64)
	b = append(b, `" lon="`...)
	b = strconv.AppendFloat(b, f.Lon, 'f', -1, 64)
	b = append(b, `">`...)
	if f.Alt != nil {
		b = append(b, "\n    <ele>"...)
		b = strconv.AppendFloat(b, *f.Alt, 'f', -1, 64)
		b = append(b, "</ele>"...)
	}
	b = append(b, "\n    <time>"...)
	b = fix.AppendTime(b, f.TS)
	t.buf = append(b, "</time>\n   </trkpt>"...)
	if len(t.buf) >= flushAt {
		return t.flush()
	}
	return nil
}

// Close ends the document and writes what is buffered.
func (t *TrackWriter) Close() error {
	if t.err != nil {
		return t.err
	}
	if t.n > 0 {
		t.buf = append(t.buf, "\n  "...)
	}
	t.buf = append(t.buf, "</trkseg>\n </trk>\n</gpx>\n"...)
	return t.flush()
}

func (t *TrackWriter) flush() error {
	if _, err := t.w.Write(t.buf); err != nil {
		t.err = fmt.Errorf("write gpx: %w", err)
		return t.err
	}
	t.buf = t.buf[:0]
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
