package outbox

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Corrupt entries are moved aside by Peek, which then fills the batch from
// further on, so they never wedge the queue.
func TestPeekDeadLettersCorruptEntries(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	ctx := context.Background()
	mustAppend(t, o, "acme", makeFixes("d1", 0, 1))
	corrupt := []struct {
		values     map[string]any
		wantReason string
	}{
		{map[string]any{"fix": "{not json", "tenant": "acme"}, "decode fix"},
		{map[string]any{"tenant": "acme", "other": "x"}, `missing "fix"`},
		{map[string]any{"fix": `{"device":"d1","ts":"2026-11-25T10:00:00Z","lat":95,"lon":1}`, "tenant": "acme"}, "lat"},
		{map[string]any{"fix": `{"device":"d1","lat":1,"lon":1}`, "tenant": "acme"}, "ts"},
	}
	var corruptIDs []string
	for _, c := range corrupt {
		id, err := client.XAdd(ctx, &redis.XAddArgs{Stream: o.Key(), Values: c.values}).Result()
		if err != nil {
			t.Fatal(err)
		}
		corruptIDs = append(corruptIDs, id)
	}
	mustAppend(t, o, "acme", makeFixes("d1", 1, 3))

	got := mustPeek(t, o, 3)
	if len(got) != 3 {
		t.Fatalf("Peek(3) = %d entries, want 3 good ones", len(got))
	}
	for i, e := range got {
		if want := key(makeFixes("d1", i, 1)[0]); key(e.Fix) != want {
			t.Errorf("entry %d = %s, want %s", i, key(e.Fix), want)
		}
	}
	dead, err := o.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != len(corrupt) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(corrupt))
	}
	for i, d := range dead {
		if d.OrigID != corruptIDs[i] {
			t.Errorf("dead %d: orig id %s, want %s", i, d.OrigID, corruptIDs[i])
		}
		if !strings.Contains(d.Reason, corrupt[i].wantReason) {
			t.Errorf("dead %d: reason %q, want it to mention %q", i, d.Reason, corrupt[i].wantReason)
		}
		for k, v := range corrupt[i].values {
			if d.Original[k] != v {
				t.Errorf("dead %d: field %s = %q, want the original %q", i, k, d.Original[k], v)
			}
		}
		if d.Status != 0 || d.At.IsZero() {
			t.Errorf("dead %d: status %d at %v, want 0 and a time", i, d.Status, d.At)
		}
	}
	s, err := o.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Depth != 4 || s.DeadLetters != 4 || s.DeadLettered != 4 {
		t.Errorf("Stats = %+v, want depth 4 and 4 dead letters", s)
	}
	if c := o.Counters(); c.DeadLettered != 4 {
		t.Errorf("Counters().DeadLettered = %d, want 4", c.DeadLettered)
	}
}

func TestPeekOnlyCorrupt(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	ctx := context.Background()
	for range 5 {
		if err := client.XAdd(ctx, &redis.XAddArgs{Stream: o.Key(), Values: []any{"fix", "]"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustPeek(t, o, 2); len(got) != 0 {
		t.Errorf("Peek = %d entries, want none", len(got))
	}
	if d := depth(t, o); d != 0 {
		t.Errorf("depth = %d, want 0: every corrupt entry moved", d)
	}
}

func TestDeadLetterWithResponse(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	ctx := context.Background()
	mustAppend(t, o, "acme", makeFixes("d1", 0, 4))
	all := mustPeek(t, o, 4)
	longBody := strings.Repeat("x", 5000)
	items := []DeadLetterItem{{ID: all[1].ID, Reason: "rejected by cloud"}, {ID: all[2].ID, Reason: "rejected by cloud"}}
	moved, err := o.DeadLetter(ctx, DeadLetterInfo{Status: 400, Body: longBody}, items...)
	if err != nil || moved != 2 {
		t.Fatalf("DeadLetter = %d, %v; want 2", moved, err)
	}
	// Again: they are gone, nothing moves, nothing is counted twice.
	if moved, err := o.DeadLetter(ctx, DeadLetterInfo{Status: 400}, items...); err != nil || moved != 0 {
		t.Fatalf("second DeadLetter = %d, %v; want 0", moved, err)
	}
	if left := ids(mustPeek(t, o, 10)); !slices.Equal(left, []string{all[0].ID, all[3].ID}) {
		t.Errorf("left %v", left)
	}
	dead, err := o.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for i, d := range dead {
		if d.Status != 400 || len(d.Body) != maxBodyStored || d.Tenant != "acme" || d.OrigID != items[i].ID {
			t.Errorf("dead %d = status %d, body %d bytes, tenant %q, orig %s", i, d.Status, len(d.Body), d.Tenant, d.OrigID)
		}
		if !strings.Contains(d.Fix, `"device":"d1"`) {
			t.Errorf("dead %d: fix %q lost", i, d.Fix)
		}
	}
	if _, err := o.DeadLetter(ctx, DeadLetterInfo{}, DeadLetterItem{ID: "bogus"}); err == nil {
		t.Error("DeadLetter of a malformed id succeeded")
	}
}
