package geojson

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// EncodeTrack writes fixes, in the order given, as a FeatureCollection with
// one Feature: a LineString of [lon, lat] or [lon, lat, alt] positions
// (alt only where the fix has one) with properties device, coordTimes (one
// RFC 3339 ms UTC time per position), start and end.
//
// RFC 7946 requires two positions in a LineString, so a single fix becomes a
// Point feature instead (with "time" as well as a one-element coordTimes),
// rather than a LineString repeating the point, which would invent a second
// fix. No fixes give an empty FeatureCollection. Decode reads all of these
// back to the same lat/lon/alt and ms-truncated times. Non-finite numbers are
// an error: JSON cannot carry them.
func EncodeTrack(w io.Writer, device string, fixes []fix.Fix) error {
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

// TrackWriter writes the document EncodeTrack writes a fix at a time: the
// positions stream out as they come, and only each fix's time is kept until
// the end, where coordTimes follows the geometry: as the varint of its
// difference from the previous one, 2 bytes for a 1 Hz track (2 MB for a
// million fixes). Its output is byte for byte that of encoding/json (see
// the test's reference encoder).
type TrackWriter struct {
	w      io.Writer
	device string
	buf    []byte
	first  fix.Fix // held until a second fix says LineString or Close says Point
	n      int
	times  []byte // unix ms of every fix, delta varints
	lastMS int64  // of the last fix written
	err    error
}

// NewTrackWriter starts device's track on w.
func NewTrackWriter(w io.Writer, device string) *TrackWriter {
	return &TrackWriter{w: w, device: device, buf: make([]byte, 0, flushAt+256)}
}

// Write adds one fix.
func (t *TrackWriter) Write(f fix.Fix) error {
	if t.err != nil {
		return t.err
	}
	if _, err := toPosition(f); err != nil {
		t.err = fmt.Errorf("encode geojson fix %d: %w", t.n, err)
		return t.err
	}
	ms := f.TS.UnixMilli()
	t.times = binary.AppendVarint(t.times, ms-t.lastMS)
	t.lastMS = ms
	t.n++
	switch t.n {
	case 1:
		t.first = f
		return nil
	case 2:
		t.buf = append(t.buf, `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[`...)
		t.buf = appendPosition(t.buf, t.first)
	}
	t.buf = appendPosition(append(t.buf, ','), f)
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
	b := t.buf
	var first int64
	if t.n > 0 {
		first, _ = binary.Varint(t.times)
	}
	switch t.n {
	case 0:
		b = append(b, `{"type":"FeatureCollection","features":[]}`...)
	case 1:
		b = append(b, `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":`...)
		b = appendPosition(b, t.first)
		b = append(b, `},"properties":{"device":`...)
		b = fix.AppendString(b, t.device)
		b = appendTimeProp(b, `,"time":`, first)
	default:
		b = append(b, `]},"properties":{"device":`...)
		b = fix.AppendString(b, t.device)
	}
	if t.n > 0 {
		b = appendTimeProp(b, `,"start":`, first)
		b = appendTimeProp(b, `,"end":`, t.lastMS)
		b = append(b, `,"coordTimes":[`...)
		ms := int64(0)
		for rest, i := t.times, 0; len(rest) > 0; i++ {
			d, k := binary.Varint(rest)
			rest = rest[k:]
			ms += d
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTime(b, ms)
			if len(b) >= flushAt {
				t.buf = b
				if err := t.flush(); err != nil {
					return err
				}
				b = t.buf
			}
		}
		b = append(b, `]}}]}`...)
	}
	t.buf = append(b, '\n')
	return t.flush()
}

func appendTimeProp(b []byte, key string, ms int64) []byte {
	return appendTime(append(b, key...), ms)
}

func appendTime(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = fix.AppendTime(b, time.UnixMilli(ms))
	return append(b, '"')
}

// appendPosition appends [lon,lat] or [lon,lat,alt]; f is finite.
func appendPosition(b []byte, f fix.Fix) []byte {
	b = fix.AppendFloat(append(b, '['), f.Lon)
	b = fix.AppendFloat(append(b, ','), f.Lat)
	if f.Alt != nil {
		b = fix.AppendFloat(append(b, ','), *f.Alt)
	}
	return append(b, ']')
}

func (t *TrackWriter) flush() error {
	if _, err := t.w.Write(t.buf); err != nil {
		t.err = fmt.Errorf("encode geojson track: %w", err)
		return t.err
	}
	t.buf = t.buf[:0]
	return nil
}

func toPosition(f fix.Fix) ([]float64, error) {
	pos := []float64{f.Lon, f.Lat}
	if f.Alt != nil {
		pos = append(pos, *f.Alt)
	}
	for _, v := range pos {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("position %v is not finite", pos)
		}
	}
	return pos, nil
}
