package sender

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/geotrack/geotrack/internal/fix"
)

// TypeLocationReported is the CloudEvent type ingest accepts (the same
// constant as events.TypeLocationReported, repeated so this client does not
// pull in the server's event decoding).
const TypeLocationReported = "io.geotrack.location.reported"

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

// wireTime is fix.FormatTime's layout, appended without allocating; the
// round-trip tests hold the two together.
const wireTime = "2006-01-02T15:04:05.000Z07:00"

func appendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, wireTime) }

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
	b = appendTime(b, f.TS)
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
		out.header.Set("Ce-Type", TypeLocationReported)
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
		b = appendString(b, id)
	}
	b = append(b, `,"source":`...)
	b = appendString(b, source)
	b = append(b, `,"type":"`+TypeLocationReported+`"`...)
	if subject != "" {
		b = append(b, `,"subject":`...)
		b = appendString(b, subject)
	}
	if last := fixes[len(fixes)-1]; !last.TS.IsZero() {
		b = append(b, `,"time":"`...)
		b = appendTime(b, last.TS)
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

// AppendFix appends the JSON of f, the same document json.Marshal(f) gives
// (field order aside), several times faster: the encoder is on the hot path
// of the ingest benchmark, whose client shares the CPU with the server.
func AppendFix(b []byte, f fix.Fix) ([]byte, error) {
	b = append(b, `{"device":`...)
	b = appendString(b, f.Device)
	b = append(b, `,"ts":"`...)
	b = appendTime(b, f.TS)
	b = append(b, '"')
	var err error
	if b, err = appendNumber(b, "lat", f.Lat); err != nil {
		return nil, err
	}
	if b, err = appendNumber(b, "lon", f.Lon); err != nil {
		return nil, err
	}
	optional := [...]struct {
		name string
		v    *float64
	}{{"alt", f.Alt}, {"acc", f.Acc}, {"speed", f.Speed}, {"heading", f.Heading}, {"battery", f.Battery}}
	for _, o := range optional {
		if o.v == nil {
			continue
		}
		if b, err = appendNumber(b, o.name, *o.v); err != nil {
			return nil, err
		}
	}
	if len(f.Attrs) > 0 {
		b = append(b, `,"attrs":{`...)
		keys := make([]string, 0, len(f.Attrs))
		for k := range f.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, f.Attrs[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func appendNumber(b []byte, name string, v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("sender: %s is %g, which JSON cannot carry", name, v)
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendFloat(b, v, 'g', -1, 64), nil
}

// appendString writes s as a JSON string; plain ASCII (every valid device
// id) takes the fast path, anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
