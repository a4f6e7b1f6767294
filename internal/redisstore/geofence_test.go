package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestGeofence(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	runGeofenceScenarios(t, client)
}

func feature(id string) []byte {
	return []byte(fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[0,0]},"properties":{"name":"n","radius_m":5}}`, id))
}

// runGeofenceScenarios runs on a single server and on a Redis Cluster.
func runGeofenceScenarios(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	s := New(client, Options{})

	t.Run("fences: put, quota, list, changes, delete", func(t *testing.T) {
		tenant := "fences"
		if v, _ := s.FenceVersion(ctx, tenant); v != 0 {
			t.Fatalf("version of an empty tenant = %d", v)
		}
		if err := s.PutFences(ctx, tenant, []geofence.Stored{{ID: "a", Feature: feature("a")}, {ID: "b", Feature: feature("b")}, {ID: "c", Feature: feature("c")}}, 3); err != nil {
			t.Fatal(err)
		}
		err := s.PutFences(ctx, tenant, []geofence.Stored{{ID: "d", Feature: feature("d")}}, 3)
		if !errors.Is(err, geofence.ErrQuota) {
			t.Fatalf("fourth fence over a quota of 3: %v", err)
		}
		// Replacing an existing fence is within the quota.
		if err := s.PutFences(ctx, tenant, []geofence.Stored{{ID: "b", Feature: feature("b2")}}, 3); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := s.GetFence(ctx, tenant, "b"); !ok || string(got) != string(feature("b2")) {
			t.Fatalf("get b = %s %v", got, ok)
		}
		if _, ok, _ := s.GetFence(ctx, tenant, "d"); ok {
			t.Fatal("refused fence d was stored")
		}
		page, next, err := s.ListFences(ctx, tenant, "", 2)
		if err != nil || len(page) != 2 || next != "b" {
			t.Fatalf("page 1: %d fences, next %q, %v", len(page), next, err)
		}
		page, next, _ = s.ListFences(ctx, tenant, next, 2)
		if len(page) != 1 || next != "" {
			t.Fatalf("page 2: %d fences, next %q", len(page), next)
		}
		v2, _ := s.FenceVersion(ctx, tenant)
		if v2 != 2 {
			t.Fatalf("version after two writes = %d", v2)
		}
		if ok, err := s.DeleteFence(ctx, tenant, "a"); !ok || err != nil {
			t.Fatalf("delete a: %v %v", ok, err)
		}
		if ok, _ := s.DeleteFence(ctx, tenant, "a"); ok {
			t.Fatal("deleted a twice")
		}
		changes, v, err := s.FenceChanges(ctx, tenant, 1)
		if err != nil || v != 3 || len(changes) != 2 {
			t.Fatalf("changes since 1: %+v v=%d %v", changes, v, err)
		}
		for _, c := range changes {
			if c.ID == "a" && c.Feature != nil || c.ID == "b" && string(c.Feature) != string(feature("b2")) {
				t.Fatalf("change %s = %s", c.ID, c.Feature)
			}
		}
		all, v, _ := s.FenceChanges(ctx, tenant, 0)
		if v != 3 || len(all) != 2 {
			t.Fatalf("all: %d fences at version %d", len(all), v)
		}
	})

	t.Run("device state: events in the log, concurrent updates serialised", func(t *testing.T) {
		tenant := "state"
		states := &GeofenceStates{Store: s}
		ts := time.Now().UTC().Truncate(time.Millisecond)
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := states.UpdateDeviceStates(ctx, tenant, []string{"d1"}, func(_ string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
					n := len(st.Inside)
					st.LastTS = ts.Add(time.Duration(n) * time.Second)
					st.Inside[fmt.Sprint("f", n)] = geofence.Presence{Since: ts, Dwelled: n%2 == 0}
					ce := fmt.Sprintf(`{"specversion":"1.0","id":"e%d","type":"io.geotrack.geofence.entered","subject":"d1","time":%q}`,
						n, st.LastTS.Format(time.RFC3339Nano))
					return true, []geofence.Event{{ID: fmt.Sprint("e", n), Type: "t", Structured: json.RawMessage(ce)}}, nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var final geofence.DeviceState
		states.UpdateDeviceStates(ctx, tenant, []string{"d1"}, func(_ string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
			final = *st
			return false, nil, nil
		})
		if len(final.Inside) != 20 || !final.LastTS.Equal(ts.Add(19*time.Second)) {
			t.Fatalf("after 20 concurrent updates: %d fences, last %v", len(final.Inside), final.LastTS)
		}
		if !final.Inside["f4"].Dwelled || final.Inside["f5"].Dwelled || !final.Inside["f4"].Since.Equal(ts) {
			t.Fatalf("presence not round-tripped: %+v", final.Inside)
		}
		// Several devices in one call: each state its own, all written.
		many := []string{"m1", "m2", "m3", "m4", "m5"}
		err := states.UpdateDeviceStates(ctx, tenant, many, func(d string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
			st.LastTS, st.Last = ts, [2]float64{1.5, -2.25}
			st.Inside["fence-of-"+d] = geofence.Presence{Since: ts, Leaving: true}
			return true, nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		states.UpdateDeviceStates(ctx, tenant, many, func(d string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
			if p, ok := st.Inside["fence-of-"+d]; !ok || !p.Leaving || len(st.Inside) != 1 || !st.LastTS.Equal(ts) || st.Last[1] != -2.25 {
				t.Errorf("state of %s read back as %+v", d, st)
			}
			return false, nil, nil
		})
		page, err := s.ReadEvents(ctx, tenant, eventlog.Query{Limit: 7})
		if err != nil || len(page.Events) != 7 || page.Next == "" {
			t.Fatalf("page 1: %d events next %q %v", len(page.Events), page.Next, err)
		}
		var ids []string
		for cursor := ""; ; {
			p, err := s.ReadEvents(ctx, tenant, eventlog.Query{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				var ce struct{ ID string }
				json.Unmarshal(e, &ce)
				ids = append(ids, ce.ID)
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if len(ids) != 20 || ids[0] != "e0" || ids[19] != "e19" {
			t.Fatalf("walked %v", ids)
		}
		p, _ := s.ReadEvents(ctx, tenant, eventlog.Query{Limit: 100, From: ts.Add(5 * time.Second), To: ts.Add(7 * time.Second)})
		if len(p.Events) != 3 {
			t.Fatalf("from/to: %d events, want 3", len(p.Events))
		}
		p, _ = s.ReadEvents(ctx, tenant, eventlog.Query{Limit: 100, Device: "d2"})
		if len(p.Events) != 0 {
			t.Fatalf("device d2: %d events", len(p.Events))
		}
		var fe *fix.FieldError
		if _, err := s.ReadEvents(ctx, tenant, eventlog.Query{Limit: 1, Cursor: "nope"}); !errors.As(err, &fe) || fe.Field != "cursor" {
			t.Fatalf("bad cursor: %v", err)
		}
	})

	t.Run("device state: events queued in the outbox, a full outbox refused before any write", func(t *testing.T) {
		tenant := "outbox"
		small := New(client, Options{EventOutboxMaxLen: 2})
		states := &GeofenceStates{Store: small, Outbox: true}
		ts := time.Now().UTC().Truncate(time.Millisecond)
		evs := func(n int) []geofence.Event {
			var out []geofence.Event
			for i := 0; i < n; i++ {
				out = append(out, geofence.Event{ID: fmt.Sprint("id", i), Type: "io.geotrack.geofence.entered", Source: "urn:test", Subject: "d1",
					Time: ts, Data: json.RawMessage(`{"device":"d1"}`), Structured: json.RawMessage(`{"id":"x"}`)})
			}
			return out
		}
		update := func(n int) error {
			return states.UpdateDeviceStates(ctx, tenant, []string{"d1"}, func(_ string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
				st.LastTS = st.LastTS.Add(time.Second)
				return true, evs(n), nil
			})
		}
		if err := update(2); err != nil {
			t.Fatal(err)
		}
		msgs, _ := client.XRange(ctx, DerivedOutboxKey(DefaultKeyPrefix, tenant), "-", "+").Result()
		if len(msgs) != 2 || msgs[0].Values["id"] != "id0" || msgs[0].Values["type"] != "io.geotrack.geofence.entered" ||
			msgs[0].Values["time"] != fmt.Sprint(ts.UnixMilli()) || msgs[0].Values["data"] != `{"device":"d1"}` {
			t.Fatalf("outbox %+v", msgs)
		}
		if ok, _ := client.SIsMember(ctx, EmittersKey(DefaultKeyPrefix), tenant).Result(); !ok {
			t.Fatal("tenant not registered for the relay")
		}
		before, _ := client.Get(ctx, "gt:{outbox}:gfstate:d1").Result()
		if err := update(1); !errors.Is(err, intake.ErrOutboxFull) {
			t.Fatalf("full outbox: %v", err)
		}
		after, _ := client.Get(ctx, "gt:{outbox}:gfstate:d1").Result()
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("state written although the outbox was full: %v -> %v", before, after)
		}
		if n, _ := client.XLen(ctx, EventLogKey("", tenant)).Result(); n != 2 {
			t.Fatalf("event log has %d entries, want 2", n)
		}
	})
}
