package osmand

import (
	"errors"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func FuzzDecodeQuery(f *testing.F) {
	for _, q := range []string{
		"id=123456&lat=52.52&lon=13.405&timestamp=1772366400&hdop=1.2&altitude=34.5&speed=10",
		"deviceid=abc&location=-33.86,151.21&timestamp=2026-03-01T10:00:00Z&bearing=360&batt=100&charge=true",
		"id=a&lat=1&lon=2&timestamp=2026-03-01+10:00:00&accuracy=-1&speed=-1&valid=false&wifi=00-14-22-01-23-45,-80",
		"id=a&lat=NaN&lon=Inf&timestamp=1e9",
		"id=a&lat=91&lon=181&timestamp=99999999999999999999&batt=150",
		"id=a&location=1,2,3&token=x&driverUniqueId=d",
		"",
	} {
		f.Add(q)
	}
	start := time.Now()
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return // the HTTP layer rejects unparseable queries before us
		}
		got, err := DecodeQuery(values, start)
		check(t, got, err, start)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, body := range []string{
		traccarClient,
		`{"device_id":"a","location":{"timestamp":"2026-03-01T10:00:00Z","coords":{"latitude":1,"longitude":2,"speed":-1,"heading":-1,"accuracy":-1},"battery":{"level":-1}}}`,
		`{"device_id":"a","location":{"coords":{"latitude":1e308,"longitude":-1e308,"heading":1e308}}}`,
		`{"device_id":"a","location":{"timestamp":1772366400,"coords":{"latitude":1,"longitude":2}}}`,
		`{"device_id":"a b","location":[]}`,
		`{}`,
	} {
		f.Add([]byte(body))
	}
	start := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeJSON(body, start)
		check(t, got, err, start)
	})
}

// check asserts the decoder contract: errors are FieldErrors naming a field;
// a decoded fix has a valid device, a time, finite numbers and optional
// values already in range, so only lat/lon/alt/ts limits are left to
// fix.Validate, which must not panic on it.
func check(t *testing.T, f fix.Fix, err error, now time.Time) {
	t.Helper()
	if err != nil {
		var fe *fix.FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Fatalf("error %v is not a FieldError naming a field", err)
		}
		return
	}
	if !fix.ValidDevice(f.Device) {
		t.Fatalf("invalid device %q", f.Device)
	}
	if f.TS.IsZero() {
		t.Fatal("zero ts")
	}
	for _, v := range []*float64{&f.Lat, &f.Lon, f.Alt, f.Acc, f.Speed, f.Heading, f.Battery} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			t.Fatalf("non-finite number in %+v", f)
		}
	}
	if f.Speed != nil && *f.Speed < 0 || f.Acc != nil && *f.Acc < 0 ||
		f.Heading != nil && (*f.Heading < 0 || *f.Heading >= 360) ||
		f.Battery != nil && (*f.Battery < 0 || *f.Battery > 1) {
		t.Fatalf("out-of-range optional value in %+v", f)
	}
	if err := fix.Validate(&f, now); err != nil {
		var fe *fix.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Validate returned %v", err)
		}
	}
}
