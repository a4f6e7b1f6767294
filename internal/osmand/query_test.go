package osmand

import (
	"errors"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeQuery(t *testing.T) {
	q := "id=123456789012345&lat=52.52&lon=13.405&timestamp=1772366400&hdop=1.2&altitude=34.5&speed=10" +
		"&bearing=90&accuracy=8&batt=76&charge=true&valid=1&driverUniqueId=drv7&cell=262,1,100,2000,-70&token=secret"
	f, err := DecodeQuery(mustQuery(t, q), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fix.Validate(&f, now); err != nil {
		t.Fatalf("decoded fix does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"device", f.Device, "123456789012345"},
		{"ts", f.TS, time.Unix(1772366400, 0).UTC()},
		{"lat", f.Lat, 52.52},
		{"lon", f.Lon, 13.405},
		{"alt", *f.Alt, 34.5},
		{"acc", *f.Acc, 8.0},
		{"heading", *f.Heading, 90.0},
		{"battery", *f.Battery, 0.76},
		{"hdop attr", f.Attrs["hdop"], "1.2"},
		{"charge attr", f.Attrs["charge"], "true"},
		{"valid attr", f.Attrs["valid"], "1"},
		{"driver attr", f.Attrs["driver"], "drv7"},
		{"cell attr", f.Attrs["cell"], "262,1,100,2000,-70"},
		{"no token attr", f.Attrs["token"], ""},
		{"attr count", len(f.Attrs), 5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if want := 10 * 1852.0 / 3600; math.Abs(*f.Speed-want) > 1e-12 {
		t.Errorf("speed %v m/s, want %v (10 kn)", *f.Speed, want)
	}
}

func TestDecodeQueryVariants(t *testing.T) {
	tests := []struct {
		name  string
		query string
		check func(f fix.Fix) bool
	}{
		{"deviceid alias", "deviceid=abc&lat=1&lon=2", func(f fix.Fix) bool { return f.Device == "abc" }},
		{"location pair", "id=a&location=-33.86,151.21", func(f fix.Fix) bool { return f.Lat == -33.86 && f.Lon == 151.21 }},
		{"no timestamp uses now", "id=a&lat=1&lon=2", func(f fix.Fix) bool { return f.TS.Equal(now) }},
		{"timestamp ms", "id=a&lat=1&lon=2&timestamp=1772366400123", func(f fix.Fix) bool { return f.TS.Equal(time.UnixMilli(1772366400123)) }},
		{"timestamp float seconds", "id=a&lat=1&lon=2&timestamp=1772366400.5", func(f fix.Fix) bool { return f.TS.Equal(time.UnixMilli(1772366400500)) }},
		{"timestamp RFC 3339", "id=a&lat=1&lon=2&timestamp=2026-03-01T10:00:00.250Z", func(f fix.Fix) bool {
			return f.TS.Equal(time.Date(2026, 3, 1, 10, 0, 0, 250e6, time.UTC))
		}},
		{"timestamp offset", "id=a&lat=1&lon=2&timestamp=2026-03-01T11:00:00%2B01:00", func(f fix.Fix) bool {
			return f.TS.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		}},
		{"timestamp ISO basic offset", "id=a&lat=1&lon=2&timestamp=2026-03-01T11:00:00%2B0100", func(f fix.Fix) bool {
			return f.TS.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		}},
		{"timestamp space form is UTC", "id=a&lat=1&lon=2&timestamp=2026-03-01+10:00:00", func(f fix.Fix) bool {
			return f.TS.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		}},
		{"heading alias", "id=a&lat=1&lon=2&heading=180", func(f fix.Fix) bool { return *f.Heading == 180 }},
		{"bearing 360 is north", "id=a&lat=1&lon=2&bearing=360", func(f fix.Fix) bool { return *f.Heading == 0 }},
		{"negative speed unknown", "id=a&lat=1&lon=2&speed=-1", func(f fix.Fix) bool { return f.Speed == nil }},
		{"bearing -1 unknown", "id=a&lat=1&lon=2&bearing=-1", func(f fix.Fix) bool { return f.Heading == nil }},
		{"empty params ignored", "id=a&lat=1&lon=2&speed=&altitude=", func(f fix.Fix) bool { return f.Speed == nil && f.Alt == nil }},
		{"hdop no accuracy fallback", "id=a&lat=1&lon=2&hdop=3", func(f fix.Fix) bool { return f.Acc == nil && f.Attrs["hdop"] == "3" }},
		{"first value wins", "id=a&id=b&lat=1&lat=9&lon=2", func(f fix.Fix) bool { return f.Device == "a" && f.Lat == 1 }},
		{"no extras no attrs", "id=a&lat=1&lon=2", func(f fix.Fix) bool { return f.Attrs == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := DecodeQuery(mustQuery(t, tt.query), now)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f) {
				t.Errorf("unexpected fix %+v", f)
			}
		})
	}
}

func TestDecodeQueryErrors(t *testing.T) {
	tests := []struct{ name, query, field string }{
		{"no id", "lat=1&lon=2", "id"},
		{"bad id", "id=a%20b&lat=1&lon=2", "id"},
		{"bad deviceid", "deviceid=a/b&lat=1&lon=2", "deviceid"},
		{"no position", "id=a", "lat"},
		{"no lon", "id=a&lat=1", "lon"},
		{"lat NaN", "id=a&lat=NaN&lon=2", "lat"},
		{"lon Inf", "id=a&lat=1&lon=Inf", "lon"},
		{"lat text", "id=a&lat={0}&lon=2", "lat"},
		{"location one part", "id=a&location=1", "location"},
		{"location NaN", "id=a&location=NaN,1", "location"},
		{"timestamp empty", "id=a&lat=1&lon=2&timestamp=", "timestamp"},
		{"timestamp garbage", "id=a&lat=1&lon=2&timestamp=yesterday", "timestamp"},
		{"timestamp exponent", "id=a&lat=1&lon=2&timestamp=1e9", "timestamp"},
		{"timestamp negative", "id=a&lat=1&lon=2&timestamp=-5", "timestamp"},
		{"timestamp zero", "id=a&lat=1&lon=2&timestamp=0", "timestamp"},
		{"timestamp huge", "id=a&lat=1&lon=2&timestamp=99999999999999999999", "timestamp"},
		{"speed text", "id=a&lat=1&lon=2&speed=fast", "speed"},
		{"altitude Inf", "id=a&lat=1&lon=2&altitude=-Inf", "altitude"},
		{"accuracy text", "id=a&lat=1&lon=2&accuracy=x", "accuracy"},
		{"batt over 100", "id=a&lat=1&lon=2&batt=150", "batt"},
		{"heading text", "id=a&lat=1&lon=2&heading=N", "heading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeQuery(mustQuery(t, tt.query), now)
			var fe *fix.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tt.field)
			}
		})
	}
}
