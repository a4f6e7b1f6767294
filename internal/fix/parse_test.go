package fix

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEpochTime(t *testing.T) {
	tests := []struct {
		name    string
		in      float64
		want    time.Time
		wantErr string
	}{
		{"seconds", 1772366400, time.UnixMilli(1772366400000), ""},
		{"fractional seconds", 1772366400.5, time.UnixMilli(1772366400500), ""},
		{"milliseconds", 1772366400123, time.UnixMilli(1772366400123), ""},
		{"last seconds value", math.MaxInt32 - 1, time.Unix(math.MaxInt32-1, 0), ""},
		{"2^31-1 is milliseconds", math.MaxInt32, time.UnixMilli(math.MaxInt32), ""},
		{"largest ms", 1e15, time.UnixMilli(1e15), ""},
		{"too large", 1e15 + 1, time.Time{}, "too large"},
		{"+Inf", math.Inf(1), time.Time{}, "too large"},
		{"zero", 0, time.Time{}, "not a positive"},
		{"negative", -1, time.Time{}, "not a positive"},
		{"NaN", math.NaN(), time.Time{}, "not a positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EpochTime(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EpochTime(%g) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("EpochTime(%g) = %v, %v; want %v UTC", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestClipAttr(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"short", "abc", "abc"},
		{"empty", "", ""},
		{"exactly the limit", strings.Repeat("x", MaxAttrValue), strings.Repeat("x", MaxAttrValue)},
		{"one over", strings.Repeat("x", MaxAttrValue+1), strings.Repeat("x", MaxAttrValue)},
		{"two-byte runes cut on a boundary", strings.Repeat("é", 600), strings.Repeat("é", MaxAttrValue/2)},
		{"never splits a rune", "x" + strings.Repeat("é", 600), "x" + strings.Repeat("é", (MaxAttrValue-1)/2)},
		{"four-byte runes", "ab" + strings.Repeat("😀", 300), "ab" + strings.Repeat("😀", (MaxAttrValue-2)/4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClipAttr(tt.in)
			if got != tt.want {
				t.Errorf("ClipAttr: got %d bytes, want %d", len(got), len(tt.want))
			}
			if len(got) > MaxAttrValue || !utf8.ValidString(got) {
				t.Errorf("ClipAttr: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}
