package owntracks

import (
	"encoding/json"
	"strconv"

	"github.com/geotrack/geotrack/internal/fix"
)

// attrKeys lists the payload elements kept as fix attrs, under their wire
// names. It is an allow-list so that device-specific extras (Queclink sends
// dozens) cannot push a fix past the 64-attr limit; everything stays in Raw.
var attrKeys = []string{
	"tid", "t", "conn", "created_at", "bs", "topic", "inregions", "inrids",
	"SSID", "BSSID", "vac", "p", "poi", "tag", "m", "rad", "dist", "trip", "odometer",
}

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
	return fix.ClipAttr(s), true
}
