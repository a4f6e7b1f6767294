package eventtype

import "encoding/json"

// Head holds the context attributes of a structured-mode CloudEvent that
// geotrack emits (geofence events, io.geotrack.alert.fired).
type Head struct {
	ID, Source, Type, Subject string
	Time                      string // RFC 3339, written as given
	Tenant                    string // the tenant extension attribute
	TraceParent               string // omitted when empty
}

// AppendStructured appends h's event whose data appendData writes (one JSON
// value), and returns the buffer with where the data starts and ends in it,
// so a caller can keep the data as a slice of the event. The bytes are what
// encoding/json gives for a struct of these attributes in this order with
// the data as a json.RawMessage: the event log, the outbox and webhooks all
// carry the same bytes, and a test of each emitter compares with it.
func AppendStructured(b []byte, h Head, appendData func([]byte) []byte) (out []byte, dataStart, dataEnd int) {
	b = append(b, `{"specversion":"1.0","id":`...)
	b = AppendJSONString(b, h.ID)
	b = append(b, `,"source":`...)
	b = AppendJSONString(b, h.Source)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, h.Type)
	b = append(b, `,"subject":`...)
	b = AppendJSONString(b, h.Subject)
	b = append(b, `,"time":`...)
	b = AppendJSONString(b, h.Time)
	b = append(b, `,"datacontenttype":"application/json","`+ExtTenant+`":`...)
	b = AppendJSONString(b, h.Tenant)
	if h.TraceParent != "" {
		b = append(b, `,"traceparent":`...)
		b = AppendJSONString(b, h.TraceParent)
	}
	b = append(b, `,"data":`...)
	dataStart = len(b)
	b = appendData(b)
	dataEnd = len(b)
	return append(b, '}'), dataStart, dataEnd
}

// AppendJSONString appends s as encoding/json writes it: plain printable
// ASCII as is, anything to escape (quotes, backslash, control characters,
// <, >, &, non-ASCII) through encoding/json itself.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
