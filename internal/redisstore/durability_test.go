package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestSaveSurvivesCrash: with appendonly + appendfsync always, an
// acknowledged Save survives kill -9, and its dedup mark with it, so a
// redelivery after the crash is still recognised.
func TestSaveSurvivesCrash(t *testing.T) {
	r := testenv.StartRedis(t, testenv.WithAppendOnly())
	client := openClient(t, r.URL)
	s := New(client, Options{})
	ctx := context.Background()
	g := Group{Source: "/gw", ID: "before-crash", Fixes: []fix.Fix{mkFix("d", base, 1, 2)}}
	if res, err := s.Save(ctx, "acme", []Group{g}, base.Add(time.Minute)); err != nil || res.Accepted != 1 {
		t.Fatalf("Save = %+v, %v", res, err)
	}
	r.Kill()
	r.Restart(t)
	f, ok, err := s.Latest(ctx, "acme", "d")
	if err != nil || !ok || f.Lon != 2 {
		t.Fatalf("Latest after crash = %+v, %v, %v", f, ok, err)
	}
	res, err := s.Save(ctx, "acme", []Group{g}, base.Add(time.Minute))
	if err != nil || !res.PerGroup[0].Duplicate {
		t.Errorf("redelivery after crash = %+v, %v; want duplicate", res, err)
	}
}

// TestConcurrentRedelivery: the same event delivered by many workers at once
// is stored exactly once, because marking and storing are one script.
func TestConcurrentRedelivery(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	s := New(client, Options{})
	ctx := context.Background()
	var fixes []fix.Fix
	for i := 0; i < 50; i++ {
		fixes = append(fixes, mkFix("d", base.Add(time.Duration(i)*time.Second), 1, float64(i)))
	}
	g := Group{Source: "/gw", ID: "evt", Fixes: fixes}
	const workers = 16
	results := make([]SaveResult, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w], errs[w] = s.Save(ctx, "acme", []Group{g}, base.Add(time.Hour))
		}()
	}
	wg.Wait()
	var stored, dups int
	for w := range results {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		if results[w].PerGroup[0].Duplicate {
			dups++
		} else {
			stored++
		}
	}
	if stored != 1 || dups != workers-1 {
		t.Errorf("stored by %d workers, duplicate for %d; want 1 and %d", stored, dups, workers-1)
	}
	if h := allHistory(t, s, "acme", "d"); len(h) != 50 {
		t.Errorf("history has %d points, want 50", len(h))
	}
}
