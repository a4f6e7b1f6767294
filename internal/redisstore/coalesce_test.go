package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestConcurrentSavesAreCoalescedCorrectly: many concurrent one-fix Saves
// (which the committer batches) each get their own, correct result, and a
// fix sent twice at once is stored once.
func TestConcurrentSavesAreCoalescedCorrectly(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	s := New(client, Options{})
	const n = 400
	results := make([]SaveResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Pairs i and i+n/2 send the same fix of the same device.
			k := i % (n / 2)
			f := mkFix("dev-"+string(rune('a'+k%26)), base.Add(time.Duration(k)*time.Second), 1, 1)
			g := Group{Fixes: []fix.Fix{f}}
			if i%3 == 0 {
				g.Source, g.ID = "urn:t", "ev-"+time.Duration(i).String()
			}
			results[i], errs[i] = s.Save(context.Background(), "acme", []Group{g}, base.Add(time.Hour))
		}(i)
	}
	wg.Wait()
	accepted, dups := 0, 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("save %d: %v", i, errs[i])
		}
		r := results[i]
		if len(r.PerGroup) != 1 || r.Accepted+r.Duplicates != 1 || len(r.PerGroup[0].Stored) != 1 ||
			r.PerGroup[0].Stored[0] != (r.Accepted == 1) {
			t.Fatalf("save %d result %+v", i, r)
		}
		accepted += r.Accepted
		dups += r.Duplicates
	}
	if accepted != n/2 || dups != n/2 {
		t.Fatalf("accepted %d, duplicates %d; want %d each", accepted, dups, n/2)
	}
	total := 0
	for k := 0; k < 26; k++ {
		page, err := s.History(context.Background(), "acme", "dev-"+string(rune('a'+k)), time.Time{}, time.Time{}, MaxLimit, "")
		if err != nil {
			t.Fatal(err)
		}
		total += len(page.Fixes)
	}
	if total != n/2 {
		t.Fatalf("history holds %d points, want %d", total, n/2)
	}
}
