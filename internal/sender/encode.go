package sender

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// Content types on the wire.
const (
	contentJSON       = "application/json"
	contentStructured = "application/cloudevents+json"
	contentBatch      = "application/cloudevents-batch+json"
)

// encoded is one ready-to-send request.
type encoded struct {
	header http.Header
	body   []byte
	fixes  int
	of     []fix.Fix // for naming rejected fixes
}

func (e encoded) describe(index int) string {
	if index >= 0 && index < len(e.of) {
		return fmt.Sprintf("fix %s@%s", e.of[index].Device, fix.FormatTime(e.of[index].TS))
	}
	return fmt.Sprintf("fix #%d", index)
}

// EventID is the deterministic CloudEvent id of one fix: a resend of the same
// fix from the same source is recognised by ingest as a duplicate.
func EventID(source string, f fix.Fix) string {
	return string(appendEventID(nil, source, f))
}

// appendEventID appends EventID(source, f) without allocating (for
// sources and devices of usual length).
func appendEventID(b []byte, source string, f fix.Fix) []byte {
	var buf [256]byte
	sum := sha256.Sum256(appendKey(buf[:0], source, f))
	return hex.AppendEncode(b, sum[:16])
}

func appendKey(b []byte, source string, f fix.Fix) []byte {
	b = append(b, source...)
	b = append(b, 0x1f)
	b = append(b, f.Device...)
	b = append(b, 0x1f)
	b = fix.AppendTime(b, f.TS)
	return append(b, 0x1e)
}

// batchID is the id of an event carrying several fixes: it covers every
// fix, so the same batch resent dedups and a different one does not.
func batchID(source string, fixes []fix.Fix) string {
	if len(fixes) == 1 {
		return EventID(source, fixes[0])
	}
	h := sha256.New()
	var buf [256]byte
	for _, f := range fixes {
		h.Write(appendKey(buf[:0], source, f))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// subjectOf is the device all fixes share, or "" when they are mixed.
func subjectOf(fixes []fix.Fix) string {
	for _, f := range fixes[1:] {
		if f.Device != fixes[0].Device {
			return ""
		}
	}
	return fixes[0].Device
}

// encode builds the request for fixes in mode.
func encode(mode Mode, source string, fixes []fix.Fix) (encoded, error) {
	out := encoded{header: http.Header{}, fixes: len(fixes), of: fixes}
	var err error
	switch mode {
	case ModeBatch:
		out.header.Set("Content-Type", contentBatch)
		b := make([]byte, 0, len(fixes)*360)
		b = append(b, '[')
		for i := range fixes {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendEvent(b, source, "", fixes[i].Device, fixes[i:i+1], false); err != nil {
				return encoded{}, err
			}
		}
		out.body = append(b, ']')
	case ModeStructured:
		out.header.Set("Content-Type", contentStructured)
		out.body, err = appendEvent(make([]byte, 0, 256+len(fixes)*220), source, batchID(source, fixes),
			subjectOf(fixes), fixes, len(fixes) > 1)
		if err != nil {
			return encoded{}, err
		}
	case ModeBinary:
		out.header.Set("Content-Type", contentJSON)
		out.header.Set("Ce-Specversion", "1.0")
		out.header.Set("Ce-Id", batchID(source, fixes))
		out.header.Set("Ce-Source", source)
		out.header.Set("Ce-Type", eventtype.LocationReported)
		out.header.Set("Ce-Time", fix.FormatTime(fixes[len(fixes)-1].TS))
		if subj := subjectOf(fixes); subj != "" {
			out.header.Set("Ce-Subject", subj)
		}
		out.body, err = appendData(make([]byte, 0, len(fixes)*220), fixes, len(fixes) > 1)
		if err != nil {
			return encoded{}, err
		}
	default:
		return encoded{}, fmt.Errorf("sender: unknown mode %q", mode)
	}
	return out, nil
}

// appendEvent writes one structured CloudEvent; an empty id means the
// EventID of the single fix. The event time is the (last) fix time rather
// than the send time, so a resend is byte-identical.
func appendEvent(b []byte, source, id, subject string, fixes []fix.Fix, array bool) ([]byte, error) {
	b = append(b, `{"specversion":"1.0","id":`...)
	if id == "" {
		b = append(b, '"')
		b = appendEventID(b, source, fixes[0])
		b = append(b, '"')
	} else {
		b = fix.AppendString(b, id)
	}
	b = append(b, `,"source":`...)
	b = fix.AppendString(b, source)
	b = append(b, `,"type":"`+eventtype.LocationReported+`"`...)
	if subject != "" {
		b = append(b, `,"subject":`...)
		b = fix.AppendString(b, subject)
	}
	if last := fixes[len(fixes)-1]; !last.TS.IsZero() {
		b = append(b, `,"time":"`...)
		b = fix.AppendTime(b, last.TS)
		b = append(b, '"')
	}
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b, err := appendData(b, fixes, array)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendData(b []byte, fixes []fix.Fix, array bool) ([]byte, error) {
	var err error
	if !array {
		return AppendFix(b, fixes[0])
	}
	b = append(b, '[')
	for i, f := range fixes {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = AppendFix(b, f); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// AppendFix appends the JSON of f (fix.Fix.AppendJSON, geotrack's wire
// form), refusing non-finite numbers, which JSON cannot carry: a client
// error better caught before sending.
func AppendFix(b []byte, f fix.Fix) ([]byte, error) {
	numbers := [...]struct {
		name string
		v    *float64
	}{{"lat", &f.Lat}, {"lon", &f.Lon}, {"alt", f.Alt}, {"acc", f.Acc}, {"speed", f.Speed}, {"heading", f.Heading}, {"battery", f.Battery}}
	for _, n := range numbers {
		if n.v != nil && (math.IsNaN(*n.v) || math.IsInf(*n.v, 0)) {
			return nil, fmt.Errorf("sender: %s is %g, which JSON cannot carry", n.name, *n.v)
		}
	}
	return f.AppendJSON(b), nil
}
