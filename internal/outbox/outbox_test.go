package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

func TestAppendPeekRoundTrip(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{Key: "gt:{edge}:outbox"})
	full := fix.Fix{
		Device: "truck-7", TS: baseTS, Lat: -33.86, Lon: 151.2,
		Alt: fix.Float(12.5), Acc: fix.Float(3), Speed: fix.Float(0), Heading: fix.Float(359.9),
		Battery: fix.Float(0.42), Attrs: map[string]string{"src": "osmand"},
	}
	in := append([]fix.Fix{full}, makeFixes("truck-8", 1, 4)...)
	mustAppend(t, o, "acme", in[:2])
	mustAppend(t, o, "globex", in[2:])

	got := mustPeek(t, o, 10)
	if len(got) != len(in) {
		t.Fatalf("Peek returned %d entries, want %d", len(got), len(in))
	}
	for i, e := range got {
		wantJSON, _ := json.Marshal(in[i])
		gotJSON, _ := json.Marshal(e.Fix)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("entry %d: fix %s, want %s", i, gotJSON, wantJSON)
		}
		wantTenant := "acme"
		if i >= 2 {
			wantTenant = "globex"
		}
		if e.Tenant != wantTenant {
			t.Errorf("entry %d: tenant %q, want %q", i, e.Tenant, wantTenant)
		}
		if i > 0 {
			prev, _ := parseStreamID(got[i-1].ID)
			cur, _ := parseStreamID(e.ID)
			if !prev.less(cur) {
				t.Errorf("entries not oldest first: %s then %s", got[i-1].ID, e.ID)
			}
		}
	}
	// Peek does not consume.
	if again := mustPeek(t, o, 2); !slices.Equal(ids(again), ids(got[:2])) {
		t.Errorf("second Peek(2) = %v, want %v", ids(again), ids(got[:2]))
	}
	if c := o.Counters(); c.Appended != int64(len(in)) {
		t.Errorf("Counters().Appended = %d, want %d", c.Appended, len(in))
	}
}

func TestAppendCapacity(t *testing.T) {
	tests := []struct {
		name      string
		capacity  int64
		queued    int
		batch     int
		wantFull  bool
		wantDepth int64
	}{
		{"fits exactly", 5, 3, 2, false, 5},
		{"one over", 5, 3, 3, true, 3},
		{"full already", 5, 5, 1, true, 5},
		{"batch larger than capacity", 5, 0, 6, true, 0},
		{"empty batch is a no-op", 5, 5, 0, false, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := startRedis(t)
			o := New(client, Options{MaxLen: tt.capacity})
			if tt.queued > 0 {
				mustAppend(t, o, "acme", makeFixes("d1", 0, tt.queued))
			}
			err := o.Append(context.Background(), "acme", makeFixes("d2", 100, tt.batch))
			if got := errors.Is(err, ErrFull); got != tt.wantFull {
				t.Fatalf("Append err = %v, want ErrFull: %v", err, tt.wantFull)
			}
			if !tt.wantFull && err != nil {
				t.Fatalf("Append: %v", err)
			}
			if d := depth(t, o); d != tt.wantDepth {
				t.Errorf("depth = %d, want %d (nothing appended on ErrFull)", d, tt.wantDepth)
			}
			// None of the refused batch leaked in.
			for _, e := range mustPeek(t, o, 100) {
				if tt.wantFull && e.Fix.Device == "d2" {
					t.Errorf("refused fix %s was appended", key(e.Fix))
				}
			}
			wantRejected := int64(0)
			if tt.wantFull {
				wantRejected = int64(tt.batch)
			}
			if c := o.Counters(); c.Rejected != wantRejected {
				t.Errorf("Counters().Rejected = %d, want %d", c.Rejected, wantRejected)
			}
		})
	}
}

func TestAppendRejectsInvalidFixAtomically(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	batch := makeFixes("d1", 0, 3)
	batch[2].Lat = 91
	err := o.Append(context.Background(), "acme", batch)
	var fe *fix.FieldError
	if !errors.As(err, &fe) || fe.Field != "lat" {
		t.Fatalf("Append err = %v, want a FieldError on lat", err)
	}
	if d := depth(t, o); d != 0 {
		t.Errorf("depth = %d after a refused batch, want 0", d)
	}
}

func TestAck(t *testing.T) {
	tests := []struct {
		name     string
		preAck   []int // acked before (makes holes)
		ack      []int // indexes into the 6 appended entries
		wantLeft []int
	}{
		{"oldest prefix (XTRIM MINID)", nil, []int{0, 1, 2}, []int{3, 4, 5}},
		{"prefix given out of order", nil, []int{2, 0, 1}, []int{3, 4, 5}},
		{"all", nil, []int{0, 1, 2, 3, 4, 5}, nil},
		{"middle (XDEL)", nil, []int{2, 3}, []int{0, 1, 4, 5}},
		{"prefix with a gap keeps the gap", nil, []int{0, 2}, []int{1, 3, 4, 5}},
		{"prefix whose hole was already acked", []int{1}, []int{0, 2}, []int{3, 4, 5}},
		{"including an already acked id", []int{1}, []int{0, 1}, []int{2, 3, 4, 5}},
		{"twice the same id", nil, []int{0, 0}, []int{1, 2, 3, 4, 5}},
		{"tail", nil, []int{4, 5}, []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := startRedis(t)
			o := New(client, Options{})
			mustAppend(t, o, "acme", makeFixes("d1", 0, 6))
			all := mustPeek(t, o, 6)
			pick := func(idx []int) []string {
				var out []string
				for _, i := range idx {
					out = append(out, all[i].ID)
				}
				return out
			}
			ctx := context.Background()
			if err := o.Ack(ctx, pick(tt.preAck)...); err != nil {
				t.Fatalf("pre-Ack: %v", err)
			}
			if err := o.Ack(ctx, pick(tt.ack)...); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			left := ids(mustPeek(t, o, 10))
			if want := pick(tt.wantLeft); !slices.Equal(left, want) {
				t.Errorf("left %v, want %v", left, want)
			}
			// Acking again is harmless.
			if err := o.Ack(ctx, pick(tt.ack)...); err != nil {
				t.Fatalf("second Ack: %v", err)
			}
			if again := ids(mustPeek(t, o, 10)); !slices.Equal(again, left) {
				t.Errorf("second Ack changed the queue: %v, want %v", again, left)
			}
		})
	}
}

func TestAckRejectsMalformedID(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	if err := o.Ack(context.Background(), "not-an-id"); err == nil {
		t.Fatal("Ack of a malformed id succeeded")
	}
}

func TestStats(t *testing.T) {
	_, client := startRedis(t)
	o := New(client, Options{})
	s, err := o.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if s != (Stats{}) {
		t.Errorf("empty outbox Stats = %+v, want zero", s)
	}
	if age := s.OldestAge(baseTS); age != 0 {
		t.Errorf("empty OldestAge = %v, want 0", age)
	}
	mustAppend(t, o, "acme", makeFixes("d1", 0, 4))
	first := mustPeek(t, o, 1)[0]
	s, err = o.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	wantOldest, _ := EntryTime(first.ID)
	if s.Depth != 4 || !s.Oldest.Equal(wantOldest) {
		t.Errorf("Stats = %+v, want depth 4 and oldest %v", s, wantOldest)
	}
	if age := s.OldestAge(wantOldest.Add(90e9)); age != 90e9 {
		t.Errorf("OldestAge 90s later = %v", age)
	}
}

func TestSurvivesRedisRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "graceful stop"
		if crash {
			name = "kill -9"
		}
		t.Run(name, func(t *testing.T) {
			srv, client := startRedis(t)
			o := New(client, Options{})
			in := makeFixes("d1", 0, 50)
			mustAppend(t, o, "acme", in)
			before := mustPeek(t, o, 100)
			if err := o.Ack(context.Background(), before[0].ID); err != nil {
				t.Fatal(err)
			}
			if crash {
				srv.Kill()
			} else {
				srv.Stop()
			}
			srv.Restart(t)

			after := mustPeek(t, o, 100)
			if !slices.Equal(ids(after), ids(before[1:])) {
				t.Fatalf("after restart %d entries, want the 49 unacked ones", len(after))
			}
			for i, e := range after {
				if key(e.Fix) != key(in[i+1]) {
					t.Errorf("entry %d = %s, want %s", i, key(e.Fix), key(in[i+1]))
				}
			}
			// New ids keep increasing after the restart, so order is kept.
			mustAppend(t, o, "acme", makeFixes("d1", 50, 1))
			all := mustPeek(t, o, 100)
			last, _ := parseStreamID(all[len(all)-1].ID)
			prev, _ := parseStreamID(all[len(all)-2].ID)
			if !prev.less(last) {
				t.Errorf("id after restart %v not greater than %v", last, prev)
			}
		})
	}
}
