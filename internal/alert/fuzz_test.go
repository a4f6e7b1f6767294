package alert

import (
	"errors"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

// FuzzDecodeRule: the rule decoder never panics and fails only with a
// field error; what it accepts is valid again after a round trip.
func FuzzDecodeRule(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://h.example.com/"}}`,
		`{"name":"s","on":["io.geotrack.location.updated"],"when":{"speed_above":30,"for_s":5},"webhook":{"url":"https://h.example.com/"},"cooldown_s":60}`,
		`{"name":"q","on":["io.geotrack.location.updated"],"when":{"silent_s":600},"webhook":{"url":"http://127.0.0.1/"}}`,
		`{"name":1}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowPrivate bool) {
		r, err := DecodeRule(data, URLPolicy{AllowPrivate: allowPrivate})
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if err := r.validate(URLPolicy{AllowPrivate: allowPrivate}); err != nil {
			t.Fatalf("accepted rule invalid: %v", err)
		}
		if _, err := SecretKey(r.Webhook.Secret); r.Webhook.Secret != "" && err != nil {
			t.Fatalf("accepted rule with an unusable secret: %v", err)
		}
	})
}
