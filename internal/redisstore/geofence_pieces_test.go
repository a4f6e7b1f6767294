package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestGeofenceStatesInPieces: a call with more devices than one piece
// (several pieces in flight at once) writes every device's state and
// every event once, in the event log and the outbox; an error of eval for
// one device fails the call.
func TestGeofenceStatesInPieces(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	states := &GeofenceStates{Store: New(client, Options{}), Outbox: true}
	ts := time.Now().UTC().Truncate(time.Millisecond)
	const tenant, n = "pieces", 3*pipelineDevices + pipelineDevices*pipelineDepth + 7
	devices := make([]string, n)
	for i := range devices {
		devices[i] = fmt.Sprint("d", i)
	}
	err = states.UpdateDeviceStates(ctx, tenant, devices, func(d string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
		st.LastTS = ts
		st.Inside["fence-of-"+d] = geofence.Presence{Since: ts}
		return true, []geofence.Event{{ID: "e-" + d, Type: "io.geotrack.geofence.entered", Source: "urn:test", Subject: d, Time: ts,
			Data: json.RawMessage(`{}`), Structured: json.RawMessage(fmt.Sprintf(`{"id":"e-%s"}`, d))}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64 // eval runs for several devices at once
	err = states.UpdateDeviceStates(ctx, tenant, devices, func(d string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
		if _, ok := st.Inside["fence-of-"+d]; !ok || len(st.Inside) != 1 || !st.LastTS.Equal(ts) {
			return false, nil, fmt.Errorf("state of %s read back as %+v", d, st)
		}
		seen.Add(1)
		return false, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Load() != n {
		t.Errorf("read back %d devices, want %d", seen.Load(), n)
	}
	if got, _ := client.XLen(ctx, EventLogKey("", tenant)).Result(); got != n {
		t.Errorf("event log holds %d events, want %d", got, n)
	}
	if got, _ := client.XLen(ctx, DerivedOutboxKey(DefaultKeyPrefix, tenant)).Result(); got != n {
		t.Errorf("outbox holds %d events, want %d", got, n)
	}
	bad := errors.New("bad device")
	err = states.UpdateDeviceStates(ctx, tenant, devices, func(d string, st *geofence.DeviceState) (bool, []geofence.Event, error) {
		if d == devices[n-1] {
			return false, nil, bad
		}
		return false, nil, nil
	})
	if !errors.Is(err, bad) {
		t.Fatalf("an eval error of the last piece: %v", err)
	}
}

// TestGeoStateRoundTrip: what encodeGeoState writes, decodeGeoState reads
// back, with the version bumped; malformed strings give an empty state.
func TestGeoStateRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	cases := map[string]geofence.DeviceState{
		"never evaluated": {Inside: map[string]geofence.Presence{}},
		"outside":         {LastTS: ts, Last: [2]float64{-0.1278, 51.5074}, Inside: map[string]geofence.Presence{}},
		"inside three": {LastTS: ts, Last: [2]float64{1e-7, -89.5}, Inside: map[string]geofence.Presence{
			"a": {Since: ts}, "f-0123": {Since: ts.Add(-time.Hour), Dwelled: true}, "x.y:z_1": {Since: ts, Leaving: true}}},
	}
	for name, st := range cases {
		t.Run(name, func(t *testing.T) {
			raw := encodeGeoState(st, "41")
			got, version := decodeGeoState(raw)
			if version != "42" || !got.LastTS.Equal(st.LastTS) || got.Last != st.Last || len(got.Inside) != len(st.Inside) {
				t.Fatalf("%q read back as %+v version %q", raw, got, version)
			}
			for id, p := range st.Inside {
				if q := got.Inside[id]; !q.Since.Equal(p.Since) || q.Dwelled != p.Dwelled || q.Leaving != p.Leaving {
					t.Errorf("%s: %+v, want %+v", id, q, p)
				}
			}
		})
	}
	for _, raw := range []string{"", "7", "7|1", "7|1|2,3", "7|x|y|a,1,0;b;c,1,1,1,1"} {
		st, _ := decodeGeoState(raw)
		if st.Inside == nil || len(st.Inside) != 0 {
			t.Errorf("%q decoded as %+v", raw, st)
		}
	}
}

func FuzzDecodeGeoState(f *testing.F) {
	f.Add("3|1764417600000000000|-0.1,51.5|a,1764417600000000000,0,1;b,0,1,0")
	f.Add("|||")
	f.Fuzz(func(t *testing.T, raw string) {
		st, version := decodeGeoState(raw)
		if st.Inside == nil {
			t.Fatal("nil Inside")
		}
		// What it decoded encodes and decodes to the same fences.
		again, _ := decodeGeoState(encodeGeoState(st, version))
		if len(again.Inside) != len(st.Inside) {
			t.Fatalf("%q: %d fences, %d after a round trip", raw, len(st.Inside), len(again.Inside))
		}
	})
}
