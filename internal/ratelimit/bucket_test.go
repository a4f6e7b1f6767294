package ratelimit

import (
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		key    string
		at     time.Duration
		ok     bool
		notice time.Duration // the Retry-After expected when refused
	}
	cases := []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{"burst then refused", Rate{PerSecond: 2, Burst: 3}, []step{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0},
			{"a", 0, false, 500 * time.Millisecond},
		}},
		{"refills at the rate", Rate{PerSecond: 2, Burst: 1}, []step{
			{"a", 0, true, 0}, {"a", 100 * time.Millisecond, false, 400 * time.Millisecond},
			{"a", 500 * time.Millisecond, true, 0},
		}},
		{"keys are independent", Rate{PerSecond: 1, Burst: 1}, []step{
			{"a", 0, true, 0}, {"a", 0, false, time.Second}, {"b", 0, true, 0},
		}},
		{"never above burst after a long pause", Rate{PerSecond: 10, Burst: 2}, []step{
			{"a", 0, true, 0}, {"a", time.Hour, true, 0}, {"a", time.Hour, true, 0},
			{"a", time.Hour, false, 100 * time.Millisecond},
		}},
		{"unlimited", Rate{}, []step{{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l Limiter
			for i, s := range tc.steps {
				ok, wait := l.Allow(s.key, tc.rate, t0.Add(s.at))
				if ok != s.ok {
					t.Fatalf("step %d: allowed %v, want %v", i, ok, s.ok)
				}
				if !ok && (wait < s.notice-time.Millisecond || wait > s.notice+time.Millisecond) {
					t.Fatalf("step %d: retry after %v, want %v", i, wait, s.notice)
				}
			}
		})
	}
}

func TestBucketsStayBounded(t *testing.T) {
	var l Limiter
	r := Rate{PerSecond: 1000, Burst: 1}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range maxBuckets + 10 {
		l.Allow(string(rune(i)), r, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.Len(); n > maxBuckets {
		t.Fatalf("%d buckets kept, bound %d", n, maxBuckets)
	}
}

func TestAllowNGoesIntoDebt(t *testing.T) {
	var l Limiter
	r := Rate{PerSecond: 100, Burst: 200}
	t0 := time.Unix(1_700_000_000, 0)
	if ok, _ := l.AllowN("a", r, t0, 1000); !ok {
		t.Fatal("a full bucket refused a batch larger than its burst")
	}
	// 800 in debt: one token is back after 8.01 s.
	ok, wait := l.AllowN("a", r, t0.Add(time.Second), 1)
	if ok || wait < 7*time.Second || wait > 7100*time.Millisecond {
		t.Fatalf("after 1 s of an 800 debt: allowed %v, retry after %v; want refused, ~7.01 s", ok, wait)
	}
	if ok, _ := l.AllowN("a", r, t0.Add(8100*time.Millisecond), 1); !ok {
		t.Fatal("refused once the debt was paid back")
	}
}

func TestEmptyPeeksWithoutTaking(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := Rate{PerSecond: 2, Burst: 2}
	var l Limiter
	if empty, _ := l.Empty("k", r, t0); empty {
		t.Fatal("a key never seen is empty")
	}
	for i := range 5 { // peeking never takes a token
		if empty, _ := l.Empty("k", r, t0); empty {
			t.Fatalf("peek %d: empty before any take", i)
		}
	}
	for i := range 2 {
		if ok, _ := l.Allow("k", r, t0); !ok {
			t.Fatalf("take %d of the burst refused after peeks", i)
		}
	}
	empty, wait := l.Empty("k", r, t0)
	if !empty || wait != 500*time.Millisecond {
		t.Fatalf("after the burst: empty %v, wait %v; want true, 500ms", empty, wait)
	}
	if empty, _ := l.Empty("k", r, t0.Add(500*time.Millisecond)); empty {
		t.Fatal("still empty once a token is back")
	}
	if empty, _ := l.Empty("k", Rate{}, t0); empty {
		t.Fatal("an unlimited rate is never empty")
	}
}
