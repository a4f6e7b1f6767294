// Package events turns incoming HTTP requests into CloudEvents (binary,
// structured and batch modes, plus the plain JSON an OpenFaaS connector or a
// device posts) and sends follow-up events through a Sink.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/geotrack/geotrack/internal/httpkit"
)

// Mode is how a request carried its events.
type Mode string

const (
	ModeBinary     Mode = "binary"
	ModeStructured Mode = "structured"
	ModeBatch      Mode = "batch"
	ModePlain      Mode = "plain" // no CloudEvent envelope: the body is the data
)

// MaxBatchEvents bounds a batch-mode request.
const MaxBatchEvents = 10000

// Media types geotrack recognises.
const (
	MediaStructured = "application/cloudevents+json"
	MediaBatch      = "application/cloudevents-batch+json"
)

// Envelope is one received unit: a CloudEvent, or a plain body.
type Envelope struct {
	Mode        Mode
	ID          string // empty for plain bodies
	Source      string
	Type        string // from the event, or the X-Topic header for plain bodies
	Subject     string
	ContentType string // of Data
	Data        []byte
	TraceParent string
	Tenant      string // the tenant extension attribute, if any
	Signature   string // the geotracksig extension attribute, if any
}

// Decode failures are *httpkit.Error (a 4xx naming the field): the client
// must fix the request, a retry would fail the same way.
func badRequest(field, format string, args ...any) *httpkit.Error {
	return httpkit.Invalid(field, format, args...)
}

// Decode reads the events of one HTTP request.
func Decode(header http.Header, body []byte) ([]Envelope, error) {
	mediaType := ""
	if ct := header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, &httpkit.Error{Status: http.StatusUnsupportedMediaType, Field: "content-type", Msg: fmt.Sprintf("cannot parse %q", ct)}
		}
		mediaType = mt
	}
	trace := header.Get("traceparent")

	// Binary mode wins whenever the ce-specversion header is present.
	if header.Get("Ce-Specversion") != "" {
		env, err := decodeBinary(header, body)
		if err != nil {
			return nil, err
		}
		if env.TraceParent == "" {
			env.TraceParent = trace
		}
		return []Envelope{env}, nil
	}

	trimmed := bytes.TrimSpace(body)
	switch {
	case mediaType == MediaBatch:
		return decodeBatch(trimmed, trace)
	case mediaType == MediaStructured:
		env, err := decodeStructured(trimmed)
		if err != nil {
			return nil, err
		}
		return []Envelope{withTrace(env, trace)}, nil
	}

	// Connectors and some producers post structured events (or batches) with
	// a plain JSON content type, or none at all: recognise them by shape.
	if len(trimmed) > 0 && (mediaType == "" || isJSONish(mediaType) || mediaType == "text/plain") {
		switch looksLikeCloudEvents(trimmed) {
		case ModeStructured:
			env, err := decodeStructured(trimmed)
			if err != nil {
				return nil, err
			}
			return []Envelope{withTrace(env, trace)}, nil
		case ModeBatch:
			return decodeBatch(trimmed, trace)
		}
	}

	if len(trimmed) == 0 {
		return nil, badRequest("body", "empty request body")
	}
	if mediaType == "" {
		mediaType = "application/json"
	}
	return []Envelope{{
		Mode:        ModePlain,
		Type:        header.Get("X-Topic"),
		ContentType: mediaType,
		Data:        trimmed,
		TraceParent: trace,
	}}, nil
}

func withTrace(env Envelope, trace string) Envelope {
	if env.TraceParent == "" {
		env.TraceParent = trace
	}
	return env
}

func isJSONish(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// looksLikeCloudEvents peeks at the top-level keys without decoding data.
func looksLikeCloudEvents(body []byte) Mode {
	switch body[0] {
	case '{':
		var probe struct {
			SpecVersion *string `json:"specversion"`
		}
		if json.Unmarshal(body, &probe) == nil && probe.SpecVersion != nil {
			return ModeStructured
		}
	case '[':
		// Only the first element's shape matters: read just that one, not a
		// batch of 10,000 fixes.
		dec := json.NewDecoder(bytes.NewReader(body))
		if _, err := dec.Token(); err != nil || !dec.More() {
			return ""
		}
		var first struct {
			SpecVersion *string `json:"specversion"`
		}
		if dec.Decode(&first) == nil && first.SpecVersion != nil {
			return ModeBatch
		}
	}
	return ""
}

func decodeBinary(header http.Header, body []byte) (Envelope, error) {
	if header.Get("Ce-Id") == "" {
		return Envelope{}, badRequest("ce-id", "header is required in binary mode")
	}
	msg := cehttp.NewMessage(header, io.NopCloser(bytes.NewReader(body)))
	e, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return Envelope{}, badRequest("ce-*", "invalid binary-mode CloudEvent: %v", err)
	}
	return fromEvent(e, ModeBinary)
}

func decodeStructured(body []byte) (Envelope, error) {
	if len(body) == 0 {
		return Envelope{}, badRequest("body", "empty structured CloudEvent")
	}
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, badRequest("body", "invalid structured CloudEvent: %v", err)
	}
	return fromEvent(&e, ModeStructured)
}

func decodeBatch(body []byte, trace string) ([]Envelope, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, badRequest("body", "invalid CloudEvents batch (expected a JSON array of events): %v", err)
	}
	if len(raws) == 0 {
		return nil, badRequest("body", "empty CloudEvents batch")
	}
	if len(raws) > MaxBatchEvents {
		return nil, badRequest("body", "%d events in one batch; the limit is %d", len(raws), MaxBatchEvents)
	}
	out := make([]Envelope, 0, len(raws))
	for i, raw := range raws {
		env, err := decodeStructured(raw)
		if err != nil {
			de := err.(*httpkit.Error)
			de.Field = fmt.Sprintf("[%d].%s", i, de.Field)
			return nil, de
		}
		env.Mode = ModeBatch
		out = append(out, withTrace(env, trace))
	}
	return out, nil
}

func fromEvent(e *event.Event, mode Mode) (Envelope, error) {
	if err := e.Validate(); err != nil {
		return Envelope{}, badRequest("event", "invalid CloudEvent: %v", err)
	}
	env := Envelope{
		Mode:        mode,
		ID:          e.ID(),
		Source:      e.Source(),
		Type:        e.Type(),
		Subject:     e.Subject(),
		ContentType: e.DataContentType(),
		Data:        e.Data(),
	}
	if env.ContentType == "" {
		env.ContentType = "application/json"
	}
	if tp, ok := e.Extensions()["traceparent"].(string); ok {
		env.TraceParent = tp
	}
	if tenant, ok := e.Extensions()[ExtTenant].(string); ok {
		env.Tenant = tenant
	}
	if sig, ok := e.Extensions()[ExtSignature].(string); ok {
		env.Signature = sig
	}
	return env, nil
}
