package fix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
)

// MaxBatch is the largest number of fixes one request or event may carry.
const MaxBatch = 10000

// wireFix mirrors Fix with loose types so that decode errors can name the field.
type wireFix struct {
	Device  *string         `json:"device"`
	TS      *string         `json:"ts"`
	Lat     *float64        `json:"lat"`
	Lon     *float64        `json:"lon"`
	Alt     *float64        `json:"alt"`
	Acc     *float64        `json:"acc"`
	Speed   *float64        `json:"speed"`
	Heading *float64        `json:"heading"`
	Battery *float64        `json:"battery"`
	Attrs   json.RawMessage `json:"attrs"`
	Tenant  json.RawMessage `json:"tenant"`
}

// SplitBatch returns the items of data, which holds either one JSON object or
// an array of 1..MaxBatch objects. Each item is decoded later on its own so
// one bad fix does not spoil the batch.
func SplitBatch(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &FieldError{Field: "body", Msg: "empty: expected a fix object or an array of fixes"}
	}
	switch trimmed[0] {
	case '{':
		if !json.Valid(trimmed) {
			return nil, &FieldError{Field: "body", Msg: "malformed JSON: " + syntaxDetail(trimmed)}
		}
		return []json.RawMessage{trimmed}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, &FieldError{Field: "body", Msg: "malformed JSON: " + describe(err)}
		}
		if len(items) == 0 {
			return nil, &FieldError{Field: "body", Msg: "empty array: expected 1 to 10000 fixes"}
		}
		if len(items) > MaxBatch {
			return nil, &FieldError{Field: "body", Msg: fmt.Sprintf("%d fixes in one batch; the limit is %d", len(items), MaxBatch)}
		}
		return items, nil
	default:
		return nil, &FieldError{Field: "body", Msg: "expected a JSON object or array of fixes"}
	}
}

// DecodeBatch decodes data (one fix object or an array of 1..MaxBatch) with
// a per-fix error for fixes that do not decode. The common case (flat fixes,
// plain strings and numbers) takes a hand-written fast path; anything else
// falls back to encoding/json (decodeBatchSlow) with identical results.
func DecodeBatch(data []byte, defaultDevice string) ([]Fix, []error, error) {
	if fixes, errs, ok := decodeBatchFast(data, defaultDevice); ok {
		return fixes, errs, nil
	}
	return decodeBatchSlow(data, defaultDevice)
}

// Decode parses one fix object. It does not validate ranges (see Validate);
// defaultDevice fills device when the object has none (the event subject).
func Decode(raw []byte, defaultDevice string) (Fix, error) {
	var w wireFix
	if err := json.Unmarshal(raw, &w); err != nil {
		return Fix{}, decodeErr(err)
	}
	return w.fix(defaultDevice)
}

// fix converts a decoded wire object, checking presence rules.
func (w *wireFix) fix(defaultDevice string) (Fix, error) {
	if w.Tenant != nil {
		return Fix{}, &FieldError{Field: "tenant", Msg: "not allowed in the payload: the tenant comes from the token"}
	}
	var f Fix
	if w.Device != nil {
		f.Device = *w.Device
	} else {
		f.Device = defaultDevice
	}
	if w.TS == nil {
		return Fix{}, &FieldError{Field: "ts", Msg: "required (RFC 3339 time)"}
	}
	ts, err := ParseTime(*w.TS)
	if err != nil {
		return Fix{}, &FieldError{Field: "ts", Msg: err.Error()}
	}
	f.TS = ts
	if w.Lat == nil {
		return Fix{}, &FieldError{Field: "lat", Msg: "required"}
	}
	if w.Lon == nil {
		return Fix{}, &FieldError{Field: "lon", Msg: "required"}
	}
	f.Lat, f.Lon = *w.Lat, *w.Lon
	f.Alt, f.Acc, f.Speed, f.Heading, f.Battery = w.Alt, w.Acc, w.Speed, w.Heading, w.Battery
	if len(w.Attrs) > 0 && string(w.Attrs) != "null" {
		var attrs map[string]string // a local keeps f off the heap
		if err := json.Unmarshal(w.Attrs, &attrs); err != nil {
			return Fix{}, &FieldError{Field: "attrs", Msg: "must be an object of string values"}
		}
		f.Attrs = attrs
	}
	return f, nil
}

// ParseTime accepts RFC 3339 with or without fractional seconds.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-11-25T10:00:00Z)", clip.String(s, 40))
	}
	return t.UTC(), nil
}

func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		field := strings.TrimPrefix(te.Field, "wireFix.")
		return &FieldError{Field: field, Msg: fmt.Sprintf("must be %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}
	}
	if errors.As(err, &te) {
		return &FieldError{Field: "body", Msg: fmt.Sprintf("expected a fix object, got %s", te.Value)}
	}
	return &FieldError{Field: "body", Msg: "malformed JSON: " + describe(err)}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "float64", "ptr":
		return "a number"
	case "string":
		return "a string"
	case "map":
		return "an object"
	}
	return goKind
}

func describe(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func syntaxDetail(data []byte) string {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return describe(err)
	}
	return "invalid"
}
