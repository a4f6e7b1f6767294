package osmand

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// clientJSON is the Traccar Client (>= 9) body, the native format of its
// background location SDK. Pointers tell absent from zero.
type clientJSON struct {
	DeviceID *string       `json:"device_id"`
	Location *jsonLocation `json:"location"`
}

type jsonLocation struct {
	Timestamp *string  `json:"timestamp"`
	Coords    *coords  `json:"coords"`
	IsMoving  *bool    `json:"is_moving"`
	Odometer  *float64 `json:"odometer"`
	Event     *string  `json:"event"`
	Mock      *bool    `json:"mock"`
	Battery   *struct {
		Level      *float64 `json:"level"`
		IsCharging *bool    `json:"is_charging"`
	} `json:"battery"`
	Activity *struct {
		Type *string `json:"type"`
	} `json:"activity"`
}

type coords struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Accuracy  *float64 `json:"accuracy"`
	Speed     *float64 `json:"speed"`
	Heading   *float64 `json:"heading"`
	Altitude  *float64 `json:"altitude"`
}

// DecodeJSON converts a Traccar Client JSON body to a fix. Speed is already
// m/s and battery.level already 0..1 here (unlike the query form). Negative
// speed, heading, accuracy and battery.level mean "unknown" and are omitted,
// as Traccar does. A missing location.timestamp is stamped with now.
// Attrs: is_charging → "charge", is_moving → "moving", odometer, event, mock,
// activity.type → "activity"; "extras" is ignored.
func DecodeJSON(body []byte, now time.Time) (fix.Fix, error) {
	var in clientJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return fix.Fix{}, jsonErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fix.Fix{}, &fix.FieldError{Field: "body", Msg: "malformed JSON: data after the object"}
	}
	if in.DeviceID == nil || *in.DeviceID == "" {
		return fix.Fix{}, &fix.FieldError{Field: "device_id", Msg: "required"}
	}
	if err := fix.ValidateDevice("device_id", *in.DeviceID); err != nil {
		return fix.Fix{}, err
	}
	loc := in.Location
	if loc == nil {
		return fix.Fix{}, &fix.FieldError{Field: "location", Msg: "required"}
	}
	f := fix.Fix{Device: *in.DeviceID, TS: now.UTC()}
	if loc.Timestamp != nil {
		ts, err := parseTimestamp(*loc.Timestamp)
		if err != nil {
			return fix.Fix{}, &fix.FieldError{Field: "location.timestamp", Msg: err.Error()}
		}
		f.TS = ts
	}
	c := loc.Coords
	if c == nil {
		return fix.Fix{}, &fix.FieldError{Field: "location.coords", Msg: "required"}
	}
	if c.Latitude == nil {
		return fix.Fix{}, &fix.FieldError{Field: "location.coords.latitude", Msg: "required"}
	}
	if c.Longitude == nil {
		return fix.Fix{}, &fix.FieldError{Field: "location.coords.longitude", Msg: "required"}
	}
	f.Lat, f.Lon = *c.Latitude, *c.Longitude
	f.Alt = c.Altitude
	f.Acc = nonNegative(c.Accuracy)
	f.Speed = nonNegative(c.Speed)
	if h := nonNegative(c.Heading); h != nil {
		f.Heading = fix.Float(math.Mod(*h, 360))
	}
	f.Attrs = map[string]string{}
	if b := loc.Battery; b != nil {
		if lvl := nonNegative(b.Level); lvl != nil {
			if *lvl > 1 {
				return fix.Fix{}, &fix.FieldError{Field: "location.battery.level", Msg: fmt.Sprintf("%g is outside 0..1", *lvl)}
			}
			f.Battery = lvl
		}
		setBool(f.Attrs, "charge", b.IsCharging)
	}
	setBool(f.Attrs, "moving", loc.IsMoving)
	setBool(f.Attrs, "mock", loc.Mock)
	if loc.Odometer != nil {
		f.Attrs["odometer"] = strconv.FormatFloat(*loc.Odometer, 'f', -1, 64)
	}
	if loc.Event != nil && *loc.Event != "" {
		f.Attrs["event"] = fix.ClipAttr(*loc.Event)
	}
	if a := loc.Activity; a != nil && a.Type != nil && *a.Type != "" {
		f.Attrs["activity"] = fix.ClipAttr(*a.Type)
	}
	if len(f.Attrs) == 0 {
		f.Attrs = nil
	}
	return f, nil
}

func nonNegative(v *float64) *float64 {
	if v == nil || *v < 0 {
		return nil
	}
	return v
}

func setBool(attrs map[string]string, key string, v *bool) {
	if v != nil {
		attrs[key] = strconv.FormatBool(*v)
	}
}

// jsonErr names the field of a type mismatch ("location.coords.speed") and
// reports everything else as a malformed body.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &fix.FieldError{Field: field, Msg: fmt.Sprintf("must be %s, got %s", describeKind(te.Type.String()), te.Value)}
	}
	return &fix.FieldError{Field: "body", Msg: "malformed JSON: " + err.Error()}
}

func describeKind(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case goType == "float64":
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "struct"), strings.HasPrefix(goType, "osmand."):
		return "an object"
	}
	return goType
}
