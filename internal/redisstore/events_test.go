package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/testenv"
)

// outboxEntries reads a tenant's event outbox.
func outboxEntries(t *testing.T, s *Store, tenant string) []redis.XMessage {
	t.Helper()
	msgs, err := s.client.XRange(context.Background(), EventOutboxKey(s.opts.KeyPrefix, tenant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// announcedFixes decodes the data of an outbox entry.
func announcedFixes(t *testing.T, m redis.XMessage) []fix.Fix {
	t.Helper()
	data, _ := m.Values["data"].(string)
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		t.Fatalf("entry %s data %q: %v", m.ID, data, err)
	}
	out := make([]fix.Fix, len(raw))
	for i, r := range raw {
		f, err := fix.Decode(r, "")
		if err != nil {
			t.Fatalf("entry %s fix %d: %v", m.ID, i, err)
		}
		out[i] = f
	}
	return out
}

// testEventOutbox: an announcing Save queues one event per Announce with
// exactly the fixes it stored, a deterministic id and the request's trace,
// atomically with the fixes; duplicates and unannounced Saves queue nothing.
func testEventOutbox(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	ann := &Announce{Type: "io.geotrack.location.updated", Source: "urn:test", TraceParent: "00-abc-def-01"}
	a0, a1 := mkFix("ev-a", at(0), 1, 1), mkFix("ev-a", at(time.Second), 1.1, 1)
	save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e1", Fixes: []fix.Fix{a0, a1}, Announce: ann})
	msgs := outboxEntries(t, s, tenant)
	if len(msgs) != 1 {
		t.Fatalf("%d entries, want 1", len(msgs))
	}
	v := msgs[0].Values
	want := map[string]string{
		"type": ann.Type, "source": "urn:test", "subject": "ev-a", "trace": ann.TraceParent,
		"id":   EventID(ann.Type, tenant, "ev-a", a0.TS.UnixMilli()),
		"time": strconv.FormatInt(at(time.Minute).UnixMilli(), 10),
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("field %s = %v, want %q", k, v[k], w)
		}
	}
	if got := announcedFixes(t, msgs[0]); len(got) != 2 || !got[0].TS.Equal(a0.TS) || !got[1].TS.Equal(a1.TS) {
		t.Errorf("announced %+v, want a0, a1", got)
	}
	if ok, _ := s.client.SIsMember(ctx, EmittersKey(s.opts.KeyPrefix), tenant).Result(); !ok {
		t.Error("tenant not registered as an emitter")
	}

	// A redelivered event and a resent fix store nothing and announce nothing;
	// a mixed group announces only its new fix, under a new id.
	b0 := mkFix("ev-b", at(2*time.Second), 2, 2)
	save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e1", Fixes: []fix.Fix{a0, a1}, Announce: ann})
	save(t, s, tenant, at(time.Minute), Group{Fixes: []fix.Fix{a1, b0}, Announce: ann})
	msgs = outboxEntries(t, s, tenant)
	if len(msgs) != 2 {
		t.Fatalf("%d entries after duplicates, want 2", len(msgs))
	}
	if got := announcedFixes(t, msgs[1]); len(got) != 1 || got[0].Device != "ev-b" ||
		msgs[1].Values["id"] != EventID(ann.Type, tenant, "ev-b", b0.TS.UnixMilli()) || msgs[1].Values["subject"] != "ev-b" {
		t.Errorf("second event %v announces %+v", msgs[1].Values, got)
	}

	// Two announces in one call are two events; groups sharing one are one
	// event whose subject is empty when devices differ.
	other := &Announce{Type: ann.Type, Source: "urn:other"}
	c0, c1, d0 := mkFix("ev-c", at(3*time.Second), 3, 3), mkFix("ev-c", at(4*time.Second), 3, 3), mkFix("ev-d", at(3*time.Second), 4, 4)
	save(t, s, tenant, at(time.Minute),
		Group{Fixes: []fix.Fix{c0}, Announce: ann}, Group{Fixes: []fix.Fix{d0}, Announce: ann},
		Group{Fixes: []fix.Fix{c1}, Announce: other})
	msgs = outboxEntries(t, s, tenant)
	if len(msgs) != 4 {
		t.Fatalf("%d entries, want 4", len(msgs))
	}
	if msgs[2].Values["subject"] != "" || len(announcedFixes(t, msgs[2])) != 2 || msgs[2].Values["trace"] != ann.TraceParent {
		t.Errorf("shared event = %v", msgs[2].Values)
	}
	if msgs[3].Values["source"] != "urn:other" || msgs[3].Values["trace"] != "" || msgs[3].Values["subject"] != "ev-c" {
		t.Errorf("second announce's event = %v", msgs[3].Values)
	}

	// An event id reused with other data is a conflict: nothing stored,
	// nothing announced. A fix beyond retention is not stored, so not
	// announced: the event carries the group's other fix and takes its id
	// from it (the first fix stored).
	res := save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e1", Fixes: []fix.Fix{mkFix("ev-a", at(5*time.Second), 9, 9)}, Announce: ann})
	if !res.PerGroup[0].Conflict || res.Accepted != 0 {
		t.Errorf("reused id with other data: %+v, want a conflict storing nothing", res)
	}
	tooOld, e0 := mkFix("ev-e", at(-8*24*time.Hour), 5, 5), mkFix("ev-e", at(5*time.Second), 5, 5)
	res = save(t, s, tenant, at(time.Minute), Group{Source: "/gw", ID: "e9", Fixes: []fix.Fix{tooOld, e0}, Announce: ann})
	if res.TooOld != 1 || res.Accepted != 1 {
		t.Errorf("a too old and a new fix: %+v", res)
	}
	msgs = outboxEntries(t, s, tenant)
	if len(msgs) != 5 {
		t.Fatalf("%d entries after a conflict and a too old fix, want 5", len(msgs))
	}
	if got := announcedFixes(t, msgs[4]); len(got) != 1 || !got[0].TS.Equal(e0.TS) ||
		msgs[4].Values["id"] != EventID(ann.Type, tenant, "ev-e", e0.TS.UnixMilli()) {
		t.Errorf("event %v announces %+v, want e0 only", msgs[4].Values, got)
	}

	// No Announce, no entry.
	save(t, s, tenant, at(time.Minute), Group{Fixes: []fix.Fix{mkFix("ev-f", at(0), 5, 5)}})
	if n := len(outboxEntries(t, s, tenant)); n != 5 {
		t.Errorf("an unannounced Save queued an event (%d entries)", n)
	}
}

// TestEventOutboxFull: at capacity an announcing Save fails with
// ErrOutboxFull and writes nothing (not even the event's seen mark), so the
// client's retry is not mistaken for a duplicate.
func TestEventOutboxFull(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	s := New(client, Options{EventOutboxMaxLen: 2})
	ann := &Announce{Type: "t", Source: "urn:test"}
	for i := 0; i < 2; i++ {
		save(t, s, "acme", at(time.Minute), Group{Fixes: []fix.Fix{mkFix("d", at(time.Duration(i)*time.Second), 1, 1)}, Announce: ann})
	}
	ctx := context.Background()
	before, _ := client.Keys(ctx, "*").Result()
	g := Group{Source: "/gw", ID: "late", Fixes: []fix.Fix{mkFix("d", at(5*time.Second), 1, 1)}, Announce: ann}
	_, err := s.Save(ctx, "acme", []Group{g}, at(time.Minute))
	if !errors.Is(err, intake.ErrOutboxFull) {
		t.Fatalf("Save into a full outbox: %v, want ErrOutboxFull", err)
	}
	after, _ := client.Keys(ctx, "*").Result()
	if len(after) != len(before) || len(allHistory(t, s, "acme", "d")) != 2 {
		t.Fatalf("a refused Save wrote something: keys %v -> %v", before, after)
	}
	// Without Announce (no sink configured) the outbox does not matter.
	save(t, s, "acme", at(time.Minute), Group{Fixes: g.Fixes})
	// Once drained, the same event is accepted (not a duplicate).
	client.Del(ctx, EventOutboxKey("gt", "acme"))
	g.Fixes = []fix.Fix{mkFix("d", at(6*time.Second), 1, 1)}
	if res := save(t, s, "acme", at(time.Minute), g); res.Accepted != 1 {
		t.Fatalf("retry after drain: %+v", res)
	}
}

// TestCoalescedSavesAnnounceSeparately: concurrent one-fix Saves share
// script calls but each keeps its own event, and every stored fix is in
// exactly one event.
func TestCoalescedSavesAnnounceSeparately(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	s := New(client, Options{})
	const n = 300
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := i % (n / 2) // pairs send the same fix
			f := mkFix("dev-"+strconv.Itoa(k%7), base.Add(time.Duration(k)*time.Second), 1, 1)
			ann := &Announce{Type: "t", Source: "urn:test", TraceParent: "tp-" + strconv.Itoa(i)}
			if _, err := s.Save(context.Background(), "acme", []Group{{Fixes: []fix.Fix{f}, Announce: ann}}, base.Add(time.Hour)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	msgs := outboxEntries(t, s, "acme")
	seen := map[string]bool{}
	for _, m := range msgs {
		fixes := announcedFixes(t, m)
		if len(fixes) != 1 {
			t.Fatalf("event %v announces %d fixes, want 1 (one per request)", m.Values, len(fixes))
		}
		key := fixes[0].Device + "@" + fix.FormatTime(fixes[0].TS)
		if seen[key] {
			t.Fatalf("fix %s announced twice", key)
		}
		seen[key] = true
		if m.Values["id"] != EventID("t", "acme", fixes[0].Device, fixes[0].TS.UnixMilli()) {
			t.Errorf("event id %v is not the fix's", m.Values["id"])
		}
	}
	if len(seen) != n/2 {
		t.Fatalf("%d fixes announced, want %d", len(seen), n/2)
	}
}
