package geofence_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/geofence"
)

// fakeFences is a FenceSource over a map, counting its reads.
type fakeFences struct {
	version  int64
	features map[string][]byte
	changed  map[string]int64 // id -> version of its last change
	reads    int
}

func (f *fakeFences) FenceVersion(context.Context, string) (int64, error) { return f.version, nil }

func (f *fakeFences) FenceChanges(_ context.Context, _ string, since int64) ([]geofence.Stored, int64, error) {
	f.reads++
	var out []geofence.Stored
	for id, v := range f.changed {
		if v > since {
			out = append(out, geofence.Stored{ID: id, Feature: f.features[id]})
		}
	}
	return out, f.version, nil
}

func (f *fakeFences) put(id string, body []byte) {
	f.version++
	f.features[id], f.changed[id] = body, f.version
}

func circleAt(lon float64) []byte {
	fs, _ := geofence.Decode([]byte(`{"type":"Feature","geometry":{"type":"Point","coordinates":[` + strconv.FormatFloat(lon, 'f', -1, 64) + `,0]},"properties":{"name":"c","radius_m":10}}`))
	b, _ := geofence.Encode(&fs[0])
	return b
}

// TestIndexReloads: the index is reused until ReloadEvery passed, then
// follows the version: changed fences replaced, deleted ones dropped, and a
// version that went back (Redis lost its data) reloads everything.
func TestIndexReloads(t *testing.T) {
	src := &fakeFences{features: map[string][]byte{}, changed: map[string]int64{}}
	src.put("a", circleAt(1))
	src.put("b", circleAt(2))
	now := t0
	d := &geofence.Detector{Fences: src, ReloadEvery: time.Second, Now: func() time.Time { return now }}
	ctx := context.Background()
	idx, _ := d.Index(ctx, "acme")
	if idx.Len() != 2 || src.reads != 1 {
		t.Fatalf("first load: %d fences, %d reads", idx.Len(), src.reads)
	}
	src.put("c", circleAt(3))
	delete(src.features, "a")
	src.version++
	src.changed["a"] = src.version
	now = now.Add(500 * time.Millisecond)
	if idx, _ = d.Index(ctx, "acme"); idx.Len() != 2 || src.reads != 1 {
		t.Fatalf("within ReloadEvery: %d fences, %d reads", idx.Len(), src.reads)
	}
	now = now.Add(600 * time.Millisecond)
	idx, _ = d.Index(ctx, "acme")
	if idx.Len() != 2 || idx.Fence("a") != nil || idx.Fence("c") == nil || src.reads != 2 {
		t.Fatalf("after a change: %d fences, a=%v c=%v, %d reads", idx.Len(), idx.Fence("a"), idx.Fence("c"), src.reads)
	}
	// Redis restarted empty, then one fence was written: version 1 < 4.
	src.features, src.changed, src.version = map[string][]byte{}, map[string]int64{}, 0
	src.put("z", circleAt(4))
	now = now.Add(2 * time.Second)
	idx, _ = d.Index(ctx, "acme")
	if idx.Len() != 1 || idx.Fence("z") == nil {
		t.Fatalf("after the version went back: %d fences", idx.Len())
	}
}
