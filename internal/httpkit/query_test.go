package httpkit

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func values(name, v string, present bool) url.Values {
	q := url.Values{}
	if present {
		q.Set(name, v)
	}
	return q
}

func checkErr(t *testing.T, err error, wantErr string) bool {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return false
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", wantErr)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("error %q does not contain %q", err, wantErr)
	}
	if s := StatusOf(err); s != http.StatusBadRequest {
		t.Fatalf("error %q maps to %d, want 400", err, s)
	}
	return true
}

func TestQueryFloat(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		present bool
		want    float64
		wantErr string
	}{
		{"missing", "", false, 0, "lat: required"},
		{"empty", "", true, 0, "lat: required"},
		{"integer", "12", true, 12, ""},
		{"decimal", "-33.8688", true, -33.8688, ""},
		{"exponent", "1e1", true, 10, ""},
		{"at min", "-90", true, -90, ""},
		{"at max", "90", true, 90, ""},
		{"malformed", "12abc", true, 0, `lat: "12abc" is not a finite number`},
		{"comma decimal", "1,5", true, 0, "not a finite number"},
		{"NaN", "NaN", true, 0, "not a finite number"},
		{"nan lower", "nan", true, 0, "not a finite number"},
		{"Inf", "Inf", true, 0, "not a finite number"},
		{"-Inf", "-Inf", true, 0, "not a finite number"},
		{"+infinity", "+infinity", true, 0, "not a finite number"},
		{"overflow", "1e400", true, 0, "not a finite number"},
		{"below min", "-90.0001", true, 0, "lat: -90.0001 is outside [-90,90]"},
		{"above max", "91", true, 0, "lat: 91 is outside [-90,90]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := QueryFloat(values("lat", tc.raw, tc.present), "lat", -90, 90)
			if checkErr(t, err, tc.wantErr) {
				if got != 0 {
					t.Fatalf("value %v returned with error", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQueryInt(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		present bool
		want    int
		wantErr string
	}{
		{"missing uses default", "", false, 50, ""},
		{"empty uses default", "", true, 50, ""},
		{"value", "7", true, 7, ""},
		{"at min", "1", true, 1, ""},
		{"at max", "1000", true, 1000, ""},
		{"leading plus", "+5", true, 5, ""},
		{"malformed", "ten", true, 0, `limit: "ten" is not an integer`},
		{"float", "1.5", true, 0, "is not an integer"},
		{"NaN", "NaN", true, 0, "is not an integer"},
		{"Inf", "Inf", true, 0, "is not an integer"},
		{"overflow", "99999999999999999999", true, 0, "is not an integer"},
		{"below min", "0", true, 0, "limit: 0 is outside [1,1000]"},
		{"negative", "-3", true, 0, "limit: -3 is outside [1,1000]"},
		{"above max", "1001", true, 0, "limit: 1001 is outside [1,1000]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := QueryInt(values("limit", tc.raw, tc.present), "limit", 50, 1, 1000)
			if checkErr(t, err, tc.wantErr) {
				return
			}
			if got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestQueryTime(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		present bool
		want    time.Time
		wantErr string
	}{
		{"missing is zero", "", false, time.Time{}, ""},
		{"empty is zero", "", true, time.Time{}, ""},
		{"unix seconds", "1764064800", true, time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC), ""},
		{"unix zero", "0", true, time.Unix(0, 0).UTC(), ""},
		{"negative unix", "-86400", true, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), ""},
		{"RFC 3339 UTC", "2026-11-25T10:00:00Z", true, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), ""},
		{"RFC 3339 fractional", "2026-11-25T10:00:00.250Z", true, time.Date(2026, 11, 25, 10, 0, 0, 250_000_000, time.UTC), ""},
		{"RFC 3339 offset to UTC", "2026-11-25T11:00:00+01:00", true, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), ""},
		{"date only", "2026-11-25", true, time.Time{}, "from: "},
		{"fractional unix", "1764064800.5", true, time.Time{}, "is neither an RFC 3339 time (e.g. 2024-05-01T12:00:00Z) nor unix seconds"},
		{"garbage", "yesterday", true, time.Time{}, `from: "yesterday" is neither an RFC 3339 time (e.g. 2024-05-01T12:00:00Z) nor unix seconds`},
		{"no zone", "2026-11-25T10:00:00", true, time.Time{}, "is neither an RFC 3339 time (e.g. 2024-05-01T12:00:00Z) nor unix seconds"},
		{"month 13", "2026-13-01T00:00:00Z", true, time.Time{}, "is neither an RFC 3339 time (e.g. 2024-05-01T12:00:00Z) nor unix seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := QueryTime(values("from", tc.raw, tc.present), "from")
			if checkErr(t, err, tc.wantErr) {
				if !got.IsZero() {
					t.Fatalf("value %v returned with error", got)
				}
				return
			}
			if !got.Equal(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if !got.IsZero() && got.Location() != time.UTC {
				t.Fatalf("location %v, want UTC", got.Location())
			}
		})
	}
}
