package owntracks

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// number reads raw[key] as a finite number. ok is false when the key is
// absent or null. Numeric strings are accepted because apps before Android
// 0.5.11 and iOS 8.0 sent every number as a string.
func number(raw map[string]any, key string) (v float64, ok bool, err error) {
	switch x := raw[key].(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		v, err = strconv.ParseFloat(string(x), 64)
	case string:
		v, err = strconv.ParseFloat(x, 64)
	default:
		return 0, false, &fix.FieldError{Field: key, Msg: fmt.Sprintf("must be a number, got %s", kind(x))}
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, &fix.FieldError{Field: key, Msg: fmt.Sprintf("%q is not a finite number", clip.String(fmt.Sprint(raw[key]), 40))}
	}
	return v, true, nil
}

func kind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
