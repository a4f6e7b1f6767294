package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	errNotYet := errors.New("not yet")
	errGone := errors.New("process exited")
	cases := []struct {
		name      string
		succeedAt int // call number that succeeds; 0 = never
		abortAt   int
		timeout   time.Duration
		wantErr   string
		wantCalls int
	}{
		{"ready at once", 1, 0, time.Second, "", 1},
		{"ready on the third check", 3, 0, time.Second, "", 3},
		{"aborted", 0, 2, time.Second, "process exited", 2},
		{"times out naming the last failure", 0, 0, 30 * time.Millisecond, "not yet", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := Until(context.Background(), c.timeout, time.Millisecond, func(context.Context) error {
				calls++
				switch calls {
				case c.succeedAt:
					return nil
				case c.abortAt:
					return Abort(errGone)
				}
				return errNotYet
			})
			if c.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
			}
			if c.wantCalls >= 0 && calls != c.wantCalls {
				t.Fatalf("check called %d times, want %d", calls, c.wantCalls)
			}
		})
	}
}

func TestUntilStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Until(ctx, 0, time.Millisecond, func(context.Context) error { return errors.New("down") })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "down") {
		t.Fatalf("err = %v, want context.Canceled naming the last failure", err)
	}
}

func TestEveryRunsAtOnceThenEachIntervalUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	start := time.Now()
	Every(ctx, 10*time.Millisecond, func(context.Context) {
		calls++
		if calls == 3 {
			cancel()
		}
	})
	if calls != 3 {
		t.Fatalf("run called %d times, want 3 (the loop must stop once ctx ends)", calls)
	}
	if elapsed := time.Since(start); elapsed < 20*time.Millisecond {
		t.Errorf("3 runs took %v, want at least two intervals between them", elapsed)
	}
}
