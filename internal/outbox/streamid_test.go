package outbox

import (
	"testing"
	"time"
)

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in       string
		want     streamID
		wantNext string
		wantErr  bool
	}{
		{in: "1700000000000-0", want: streamID{1700000000000, 0}, wantNext: "1700000000000-1"},
		{in: "5-18446744073709551615", want: streamID{5, ^uint64(0)}, wantNext: "6-0"},
		{in: "0-1", want: streamID{0, 1}, wantNext: "0-2"},
		{in: "17", wantErr: true},
		{in: "a-1", wantErr: true},
		{in: "1-b", wantErr: true},
		{in: "-1-1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStreamID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseStreamID(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got != tt.want || got.String() != tt.in || got.next().String() != tt.wantNext {
			t.Errorf("parseStreamID(%q) = %v (next %v), want %v (next %s)", tt.in, got, got.next(), tt.want, tt.wantNext)
		}
		if !got.less(got.next()) {
			t.Errorf("%v not less than its next", got)
		}
	}
}

func TestEntryTime(t *testing.T) {
	got, err := EntryTime("1764064800123-7")
	if want := time.UnixMilli(1764064800123).UTC(); err != nil || !got.Equal(want) {
		t.Errorf("EntryTime = %v, %v; want %v", got, err, want)
	}
	if _, err := EntryTime("x"); err == nil {
		t.Error("EntryTime(x) succeeded")
	}
}
