package owntracks

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// attrKeys lists the payload elements kept as fix attrs, under their wire
// names. It is an allow-list so that device-specific extras (Queclink sends
// dozens) cannot push a fix past the 64-attr limit; everything stays in Raw.
var attrKeys = []string{
	"tid", "t", "conn", "created_at", "bs", "topic", "inregions", "inrids",
	"SSID", "BSSID", "vac", "p", "poi", "tag", "m", "rad", "dist", "trip", "odometer",
}

// maxAttrValue is fix.Validate's limit on an attr value.
const maxAttrValue = 1024

func attrs(raw map[string]any) map[string]string {
	out := make(map[string]string)
	for _, k := range attrKeys {
		if s, ok := attrString(raw[k]); ok {
			out[k] = s
		}
	}
	// Older iOS versions called vertical accuracy "vacc".
	if _, ok := out["vac"]; !ok {
		if s, ok := attrString(raw["vacc"]); ok {
			out["vac"] = s
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// attrString renders a JSON value as an attr string: scalars as written,
// lists such as inregions as compact JSON (region names may contain commas).
func attrString(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		s = string(b)
	}
	return clip(s, maxAttrValue), true
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence, so a
// long region list shortens instead of failing validation.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
