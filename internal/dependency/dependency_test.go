package dependency

import (
	"errors"
	"fmt"
	"testing"
)

func TestUnavailable(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	cases := []struct {
		name     string
		err      error
		wantMark bool
		wantMsg  string
	}{
		{"nil stays nil", nil, false, ""},
		{"plain error is marked", cause, true, "redis unavailable: dial tcp 127.0.0.1:6379: connect: connection refused"},
		{"marked error wrapped by context keeps its mark", fmt.Errorf("save: %w", Unavailable("redis", cause)), true, "redis unavailable: dial tcp 127.0.0.1:6379: connect: connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Unavailable("redis", tc.err)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Unavailable(nil) = %v", err)
				}
				return
			}
			de, ok := As(err)
			if ok != tc.wantMark {
				t.Fatalf("As(%v) = %v, want %v", err, ok, tc.wantMark)
			}
			if de.Error() != tc.wantMsg || de.Name != "redis" {
				t.Fatalf("got %q (name %q), want %q", de.Error(), de.Name, tc.wantMsg)
			}
			if !errors.Is(err, cause) {
				t.Fatal("the cause is not reachable with errors.Is")
			}
		})
	}
	if _, ok := As(errors.New("a bug")); ok {
		t.Fatal("an unmarked error reads as an outage")
	}
}
