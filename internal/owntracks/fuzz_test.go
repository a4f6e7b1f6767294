package owntracks

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func FuzzDecode(f *testing.F) {
	seeds := []struct{ body, user, device string }{
		{iosLocation, "jane", "iPhone"},
		{`{"_type":"location","acc":19,"batt":94,"conn":"w","lat":25.120159,"lon":3.4075119,"t":"u","tid":"og","tst":1485682695}`, "", ""},
		{`{"_type":"location","lat":"48.85","lon":"2.29","tst":"1497476456","tid":"JJ"}`, "", ""},
		{`{"_type":"location","lat":1,"lon":2,"tst":1e400,"tid":"x"}`, "u", "d"},
		{`{"_type":"location","lat":-90.5,"lon":181,"tst":1764064800.999,"cog":-1,"vel":-1,"batt":-1,"tid":"x"}`, "u", "d"},
		{`{"_type":"transition","wtst":1425042603,"lat":12.34,"lon":44.5,"tst":1427634603,"acc":130,"tid":"JP","event":"enter"}`, "u", "d"},
		{`{"_type":"encrypted","data":"AAAA"}`, "u", "d"},
		{`[{"_type":"lwt","tst":1},{"_type":"location","lat":1,"lon":2,"tst":1,"topic":"owntracks/a/b"}]`, "", ""},
		{``, "", ""},
		{`{"_type":"location","lat":1,"lon":2,"tst":1764064800,"inregions":[{"a":[1,2,{"b":null}]}]}`, "ü:ser", "dev ice"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.user, s.device)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte, user, device string) {
		m, err := Decode(body, user, device)
		checkResult(t, []Message{m}, err, now)
		msgs, err := DecodeAll(body, user, device)
		checkResult(t, msgs, err, now)
	})
}

// checkResult asserts the decoder contract: errors are FieldErrors; a
// location always carries a fix whose numbers are finite and whose device id
// is valid, so nothing non-finite can reach fix.Validate disguised as valid.
func checkResult(t *testing.T, msgs []Message, err error, now time.Time) {
	t.Helper()
	if err != nil {
		var fe *fix.FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Fatalf("error %v is not a FieldError naming a field", err)
		}
		return
	}
	for _, m := range msgs {
		if m.Type == "" {
			t.Fatal("message without a type")
		}
		if (m.Type == TypeLocation) != (m.Fix != nil) {
			t.Fatalf("type %q with fix %v", m.Type, m.Fix)
		}
		if m.Fix == nil {
			continue
		}
		fx := m.Fix
		if !fix.ValidDevice(fx.Device) {
			t.Fatalf("invalid device id %q", fx.Device)
		}
		if fx.TS.IsZero() {
			t.Fatal("zero ts")
		}
		for _, v := range []*float64{&fx.Lat, &fx.Lon, fx.Alt, fx.Acc, fx.Speed, fx.Heading, fx.Battery} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				t.Fatalf("non-finite number in %+v", *fx)
			}
		}
		if fx.Speed != nil && *fx.Speed < 0 || fx.Acc != nil && *fx.Acc < 0 ||
			fx.Heading != nil && (*fx.Heading < 0 || *fx.Heading >= 360) ||
			fx.Battery != nil && (*fx.Battery < 0 || *fx.Battery > 1) {
			t.Fatalf("out-of-range optional value in %+v", *fx)
		}
		// Validate may still reject (e.g. lat 91); it must not panic and must name a field.
		if err := fix.Validate(fx, now); err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate returned %v", err)
			}
		}
	}
}
