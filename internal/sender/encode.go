package sender

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"time"

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

// Envelope holds the attributes of one outgoing structured CloudEvent of
// type io.geotrack.location.reported. It is the one encoding path for the
// events geotrack's clients produce: the sender (simulate, replay, import,
// bench) and the edge forwarder. TestStructuredMatchesSDK checks it against
// the CloudEvents SDK.
type Envelope struct {
	ID      string
	Source  string
	Subject string    // omitted when empty
	Time    time.Time // omitted when zero
	// Tenant is the tenant extension attribute (omitted when empty): the
	// forwarder's service token alone does not say whose fixes these are.
	Tenant string
}

// AppendStructured appends e as a structured-mode CloudEvent (JSON) whose
// data is fixes: a JSON array when array is true, else the single fix. It
// is hand-written because it runs for every request of a load test; its
// output depends only on its input, so a resent batch is byte-identical.
func AppendStructured(b []byte, e Envelope, fixes []fix.Fix, array bool) ([]byte, error) {
	b = append(b, `{"specversion":"1.0","id":`...)
	b = fix.AppendString(b, e.ID)
	b = append(b, `,"source":`...)
	b = fix.AppendString(b, e.Source)
	b = append(b, `,"type":"`+eventtype.LocationReported+`"`...)
	if e.Subject != "" {
		b = append(b, `,"subject":`...)
		b = fix.AppendString(b, e.Subject)
	}
	if !e.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = fix.AppendTime(b, e.Time)
		b = append(b, '"')
	}
	if e.Tenant != "" {
		b = append(b, `,"`+eventtype.ExtTenant+`":`...)
		b = fix.AppendString(b, e.Tenant)
	}
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b, err := appendData(b, fixes, array)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendEvent writes the sender's event for fixes; an empty id means the
// EventID of the single fix. The event time is the (last) fix time rather
// than the send time, so a resend is byte-identical.
func appendEvent(b []byte, source, id, subject string, fixes []fix.Fix, array bool) ([]byte, error) {
	if id == "" {
		var buf [32]byte
		id = string(appendEventID(buf[:0], source, fixes[0]))
	}
	return AppendStructured(b, Envelope{ID: id, Source: source, Subject: subject, Time: fixes[len(fixes)-1].TS}, fixes, array)
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
