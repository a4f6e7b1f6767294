package archive

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
)

// fakeHot is an in-memory hot store with History's paging and
// TrimArchived's count check.
type fakeHot struct {
	mu     sync.Mutex
	points map[string][]fix.Fix // tenant\x1fdevice → sorted by ts
	// beforeTrim runs inside TrimArchived before the check (a late fix).
	beforeTrim func()
}

func newFakeHot() *fakeHot { return &fakeHot{points: map[string][]fix.Fix{}} }

func (h *fakeHot) add(tenant string, fixes ...fix.Fix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range fixes {
		k := tenant + "\x1f" + f.Device
		h.points[k] = append(h.points[k], f)
		sort.Slice(h.points[k], func(i, j int) bool { return h.points[k][i].TS.Before(h.points[k][j].TS) })
	}
}

func (h *fakeHot) Tenants(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.points {
		out = append(out, strings.Split(k, "\x1f")[0])
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (h *fakeHot) Devices(_ context.Context, tenant string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.points {
		if t, d, _ := strings.Cut(k, "\x1f"); t == tenant {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (h *fakeHot) History(_ context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := int64(0)
	if cursor != "" {
		start, _ = strconv.ParseInt(cursor, 10, 64)
	}
	var page locate.Page
	for _, f := range h.points[tenant+"\x1f"+device] {
		ms := f.TS.UnixMilli()
		if ms < start || (!to.IsZero() && ms > to.UnixMilli()) {
			continue
		}
		if len(page.Fixes) == limit {
			page.Next = strconv.FormatInt(ms, 10)
			break
		}
		page.Fixes = append(page.Fixes, f)
	}
	return page, nil
}

func (h *fakeHot) TrimArchived(_ context.Context, tenant, device string, before time.Time, archived int) error {
	if h.beforeTrim != nil {
		h.beforeTrim()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := tenant + "\x1f" + device
	n := 0
	for _, f := range h.points[k] {
		if f.TS.Before(before) {
			n++
		}
	}
	if n != archived {
		return fmt.Errorf("%w: %d != %d", ErrHistoryChanged, n, archived)
	}
	h.points[k] = h.points[k][n:]
	return nil
}

// fakeCold is a bucket in memory; failPut fails the n-th Put from now on.
type fakeCold struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	failAt  int // 1-based Put that fails, and every later one; 0: never
}

func (c *fakeCold) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.objects[key]
	return d, ok, nil
}

func (c *fakeCold) Put(_ context.Context, key string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	if c.failAt > 0 && c.puts >= c.failAt {
		return errors.New("connection refused")
	}
	c.objects[key] = slices.Clone(data)
	return nil
}

// coldFixes decodes every object of the bucket, by device.
func coldFixes(t *testing.T, c *fakeCold) map[string][]fix.Fix {
	t.Helper()
	out := map[string][]fix.Fix{}
	keys := make([]string, 0, len(c.objects))
	for k := range c.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rows, err := Decode(c.objects[k])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			f, err := r.Fix()
			if err != nil {
				t.Fatal(err)
			}
			out[f.Device] = append(out[f.Device], f)
		}
	}
	return out
}

// history makes n points of device, one per 7 minutes from start.
func history(device string, start time.Time, n int) []fix.Fix {
	var out []fix.Fix
	for i := range n {
		out = append(out, fix.Fix{Device: device, TS: start.Add(time.Duration(i) * 7 * time.Minute),
			Lat: 52.5 + float64(i)*1e-5, Lon: 13.4 - float64(i)*1e-5, Alt: fix.Float(34.5)})
	}
	return out
}

func TestPassMovesWholeDaysOnceAndExactly(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	start := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	all := history("d1", start, 5*24*60/7) // 5 days up to now

	type step struct {
		name        string
		failPutAt   int  // fakeCold.failAt for this pass
		lateFix     bool // a fix for an archived day arrives during the trim
		wantErr     bool
		wantChanged int
		wantDueLeft bool
	}
	steps := []step{
		{name: "bucket fails on the 2nd object", failPutAt: 2, wantErr: true, wantDueLeft: true},
		{name: "a late fix during the trim", lateFix: true, wantChanged: 1, wantDueLeft: true},
		{name: "catches up", wantDueLeft: false},
		{name: "nothing to do"},
	}
	hot, cold := newFakeHot(), &fakeCold{objects: map[string][]byte{}}
	hot.add("acme", all...)
	late := fix.Fix{Device: "d1", TS: start.Add(3*time.Minute + 500*time.Millisecond), Lat: 1, Lon: 2}
	a := &Archiver{Hot: hot, Cold: cold, Retention: 48 * time.Hour, Now: func() time.Time { return now }, Workers: 2}
	lateAdded := false
	cutoff := Cutoff(now, 48*time.Hour)
	if want := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC); !cutoff.Equal(want) {
		t.Fatalf("cutoff %s, want %s", cutoff, want)
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			cold.failAt, cold.puts = s.failPutAt, 0
			hot.beforeTrim = nil
			if s.lateFix {
				once := sync.Once{}
				hot.beforeTrim = func() { once.Do(func() { hot.add("acme", late); lateAdded = true }) }
			}
			res, err := a.Pass(context.Background())
			if (err != nil) != s.wantErr {
				t.Fatalf("err = %v, want error %v", err, s.wantErr)
			}
			if res.Changed != s.wantChanged {
				t.Errorf("changed %d, want %d", res.Changed, s.wantChanged)
			}
			if res.OldestDue.IsZero() == s.wantDueLeft {
				t.Errorf("oldest due %v, want some: %v", res.OldestDue, s.wantDueLeft)
			}
			// Whatever happened: hot ∪ cold is every point, each once.
			cold.failAt = 0
			got := coldFixes(t, cold)["d1"]
			page, _ := hot.History(context.Background(), "acme", "d1", time.Time{}, time.Time{}, 1<<30, "")
			union := map[int64]fix.Fix{}
			for _, f := range got {
				if _, dup := union[f.TS.UnixMilli()]; dup {
					t.Fatalf("ts %s twice in the archive", f.TS)
				}
				union[f.TS.UnixMilli()] = f
			}
			for _, f := range page.Fixes {
				if f.TS.Before(cutoff) {
					if c, both := union[f.TS.UnixMilli()]; both && !reflect.DeepEqual(c, f) {
						t.Fatalf("ts %s differs between tiers", f.TS)
					}
				}
				union[f.TS.UnixMilli()] = f
			}
			want := len(all)
			if lateAdded {
				want++
			}
			if len(union) != want {
				t.Fatalf("%d distinct points across tiers, want %d", len(union), want)
			}
			for _, f := range page.Fixes {
				if !f.TS.Before(cutoff) {
					continue
				}
				if !s.wantDueLeft {
					t.Fatalf("due point %s still hot after a clean pass", f.TS)
				}
			}
		})
	}
	if n := len(cold.objects); n != 3 {
		t.Fatalf("%d objects, want 3 (one per archived day)", n)
	}
	if got := coldFixes(t, cold)["d1"]; !hasTS(got, late.TS) || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].TS.Before(got[j].TS) }) {
		t.Fatal("late fix missing from the archive, or the day out of order")
	}
}

func hasTS(fixes []fix.Fix, ts time.Time) bool {
	for _, f := range fixes {
		if f.TS.Equal(ts) {
			return true
		}
	}
	return false
}

func TestMergeTakesEachTSOnceHotWins(t *testing.T) {
	r := func(ts int64, lat int32) Row { return Row{Device: "d", TS: ts, LatE7: lat} }
	got := Merge([]Row{r(1, 0), r(3, 0), r(5, 0)}, []Row{r(2, 9), r(3, 9), r(6, 9)})
	want := []Row{r(1, 0), r(2, 9), r(3, 9), r(5, 0), r(6, 9)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

func TestObjectKeyEscapesPathUnsafeBytes(t *testing.T) {
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct{ prefix, tenant, device, want string }{
		{"", "acme", "truck-1", "tenant=acme/device=truck-1/date=2026-01-02/part-0.parquet"},
		{"geo/", "a/b=c d%", "imei:35", "geo/tenant=a%2Fb%3Dc%20d%25/device=imei%3A35/date=2026-01-02/part-0.parquet"},
		{"", "ünï", "x.y_z", "tenant=%C3%BCn%C3%AF/device=x.y_z/date=2026-01-02/part-0.parquet"},
	}
	for _, c := range cases {
		if got := ObjectKey(c.prefix, c.tenant, c.device, day); got != c.want {
			t.Errorf("ObjectKey(%q,%q,%q) = %q, want %q", c.prefix, c.tenant, c.device, got, c.want)
		}
	}
}

// corruptCold returns what was written with one byte changed, as a broken
// store or network would.
type corruptCold struct{ fakeCold }

func (c *corruptCold) Get(ctx context.Context, key string) ([]byte, bool, error) {
	data, ok, err := c.fakeCold.Get(ctx, key)
	if ok && len(data) > 10 {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	return data, ok, err
}

func TestPassTrimsNothingWhenTheReadBackDiffers(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	hot := newFakeHot()
	all := history("d1", time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC), 300)
	hot.add("acme", all...)
	a := &Archiver{Hot: hot, Cold: &corruptCold{fakeCold{objects: map[string][]byte{}}}, Retention: 48 * time.Hour, Now: func() time.Time { return now }}
	res, err := a.Pass(context.Background())
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("err = %v, want a read-back mismatch", err)
	}
	if res.Points != 0 || len(hot.points["acme\x1fd1"]) != len(all) {
		t.Fatalf("trimmed %d points (hot has %d of %d) after a failed check", res.Points, len(hot.points["acme\x1fd1"]), len(all))
	}
	if res.OldestDue.IsZero() {
		t.Fatal("no lag reported after a failed pass")
	}
}
