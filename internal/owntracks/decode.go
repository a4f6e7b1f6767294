// Package owntracks decodes the JSON payloads the OwnTracks apps POST in HTTP
// mode (https://owntracks.org/booklet/tech/json/) into geotrack fixes.
// It is pure domain code: the HTTP function extracts the body and the
// X-Limit-U/X-Limit-D headers (or ?u=&d=) and replies.
package owntracks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Message types the caller may want to tell apart.
const (
	TypeLocation = "location"
	// TypeEmpty marks a zero-length body: the apps POST one when a friend is
	// deleted and the booklet says to ignore it, so it is not an error.
	TypeEmpty = "empty"
)

// maxTST rejects timestamps that are clearly milliseconds (year > 5000):
// OwnTracks sends epoch seconds, and guessing would hide a sender bug.
const maxTST = 1e11

// Message is one decoded OwnTracks payload. Fix is set only for
// _type "location"; every other type decodes with Fix nil and the function
// replies 200 []. Raw holds the whole object as decoded with json.Number for
// numbers, so nothing the app sent is lost.
type Message struct {
	Type string
	Fix  *fix.Fix
	Raw  map[string]any
}

// Decode parses one OwnTracks HTTP body. user and device are the X-Limit-U and
// X-Limit-D headers (or ?u=&d=), "" when absent; see DeviceID for how the fix's
// device is chosen. Errors are *fix.FieldError naming the offending field.
// A location fix still has to pass fix.Validate: Decode checks what only it
// can (types, units, required fields), not geotrack's ranges.
func Decode(body []byte, user, device string) (Message, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return Message{Type: TypeEmpty}, nil
	}
	if trimmed[0] != '{' {
		return Message{}, &fix.FieldError{Field: "body", Msg: "expected a JSON object with _type (use DecodeAll for arrays)"}
	}
	raw, err := parseObject(trimmed)
	if err != nil {
		return Message{}, err
	}
	return decodeObject(raw, user, device)
}

// DecodeAll accepts a single message or a JSON array of messages. The booklet
// documents single objects only, but queued payloads are sometimes replayed as
// an array by proxies and import tools, so the batch form costs little to
// support. Errors in an element name it as "[i].field". An empty body or array
// yields no messages.
func DecodeAll(body []byte, user, device string) ([]Message, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] != '[' {
		m, err := Decode(trimmed, user, device)
		if err != nil {
			return nil, err
		}
		return []Message{m}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(trimmed, &items); err != nil {
		return nil, &fix.FieldError{Field: "body", Msg: "malformed JSON array: " + err.Error()}
	}
	if len(items) > fix.MaxBatch {
		return nil, &fix.FieldError{Field: "body", Msg: fmt.Sprintf("%d messages in one batch; the limit is %d", len(items), fix.MaxBatch)}
	}
	msgs := make([]Message, 0, len(items))
	for i, item := range items {
		m, err := decodeItem(item, user, device)
		if err != nil {
			return nil, prefixField(err, fmt.Sprintf("[%d].", i))
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func decodeItem(item json.RawMessage, user, device string) (Message, error) {
	trimmed := bytes.TrimSpace(item)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Message{}, &fix.FieldError{Field: "body", Msg: "expected a JSON object with _type"}
	}
	raw, err := parseObject(trimmed)
	if err != nil {
		return Message{}, err
	}
	return decodeObject(raw, user, device)
}

// parseObject decodes exactly one JSON object, keeping numbers as json.Number
// so integers such as created_at survive into attrs unrounded.
func parseObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, &fix.FieldError{Field: "body", Msg: "malformed JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &fix.FieldError{Field: "body", Msg: "malformed JSON: data after the object"}
	}
	if raw == nil {
		return nil, &fix.FieldError{Field: "body", Msg: "expected a JSON object with _type"}
	}
	return raw, nil
}

func decodeObject(raw map[string]any, user, device string) (Message, error) {
	typ, ok := raw["_type"].(string)
	if !ok || typ == "" {
		if _, present := raw["_type"]; present {
			return Message{}, &fix.FieldError{Field: "_type", Msg: "must be a non-empty string"}
		}
		return Message{}, &fix.FieldError{Field: "_type", Msg: "required"}
	}
	m := Message{Type: typ, Raw: raw}
	if typ != TypeLocation {
		return m, nil
	}
	f, err := locationFix(raw, user, device)
	if err != nil {
		return Message{}, err
	}
	m.Fix = &f
	return m, nil
}

func locationFix(raw map[string]any, user, device string) (fix.Fix, error) {
	var f fix.Fix
	tid, _ := raw["tid"].(string)
	topic, _ := raw["topic"].(string)
	id, err := DeviceID(user, device, topic, tid)
	if err != nil {
		return fix.Fix{}, err
	}
	f.Device = id

	tst, ok, err := number(raw, "tst")
	if err != nil {
		return fix.Fix{}, err
	}
	if !ok {
		return fix.Fix{}, &fix.FieldError{Field: "tst", Msg: "required (UNIX epoch seconds)"}
	}
	if tst <= 0 || tst >= maxTST {
		return fix.Fix{}, &fix.FieldError{Field: "tst", Msg: fmt.Sprintf("%g is not UNIX epoch seconds", tst)}
	}
	sec, frac := math.Modf(tst)
	f.TS = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()

	lat, ok, err := number(raw, "lat")
	if err != nil {
		return fix.Fix{}, err
	}
	if !ok {
		return fix.Fix{}, &fix.FieldError{Field: "lat", Msg: "required"}
	}
	lon, ok, err := number(raw, "lon")
	if err != nil {
		return fix.Fix{}, err
	}
	if !ok {
		return fix.Fix{}, &fix.FieldError{Field: "lon", Msg: "required"}
	}
	f.Lat, f.Lon = lat, lon

	if err := optionalFields(raw, &f); err != nil {
		return fix.Fix{}, err
	}
	f.Attrs = attrs(raw)
	return f, nil
}

// optionalFields converts the optional measurements. Negative acc, vel and
// cog are "unknown" (iOS reports -1 from CoreLocation) and are omitted rather
// than turned into fixes that fail validation.
func optionalFields(raw map[string]any, f *fix.Fix) error {
	if v, ok, err := number(raw, "alt"); err != nil {
		return err
	} else if ok {
		f.Alt = fix.Float(v)
	}
	if v, ok, err := number(raw, "acc"); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Acc = fix.Float(v)
	}
	if v, ok, err := number(raw, "vel"); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Speed = fix.Float(v / 3.6) // km/h → m/s
	}
	if v, ok, err := number(raw, "cog"); err != nil {
		return err
	} else if ok && v >= 0 {
		f.Heading = fix.Float(math.Mod(v, 360)) // 360 means north too
	}
	if v, ok, err := number(raw, "batt"); err != nil {
		return err
	} else if ok && v >= 0 {
		if v > 100 {
			return &fix.FieldError{Field: "batt", Msg: fmt.Sprintf("%g is not a percentage (0..100)", v)}
		}
		f.Battery = fix.Float(v / 100)
	}
	return nil
}

func prefixField(err error, prefix string) error {
	var fe *fix.FieldError
	if errors.As(err, &fe) {
		return &fix.FieldError{Field: prefix + fe.Field, Msg: fe.Msg}
	}
	return fmt.Errorf("%s %w", prefix, err)
}
