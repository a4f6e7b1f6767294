// Package movement is the application service of the movement and trips
// functions: it runs the trip state machine (internal/trips) live over the
// fixes io.geotrack.location.updated announces, keeping each device's state
// in a StateStore that saves it atomically with the events it causes, and
// builds the trips report from a device's history with the same machine.
package movement

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/trips"
)

// Event is one event movement emits, ready for the outbox.
type Event struct {
	Type    string
	ID      string // deterministic: the same fixes always give the same ids
	Subject string // the device
	Time    time.Time
	Data    json.RawMessage
}

// StateStore keeps each device's machine state.
type StateStore interface {
	// Advance loads device's state, calls step with it (zero for a new
	// device) and saves the state step left together with the events it
	// returned, atomically; on a concurrent change it starts over, so step
	// must not have other effects.
	Advance(ctx context.Context, tenant, device string, step func(*trips.State) []Event) error
}

// RulesSource gives the trip rules in force for a device (its preferences).
type RulesSource interface {
	TripRules(ctx context.Context, tenant, device string) (trips.Rules, error)
}

// DefaultRules is the RulesSource of a pack without preferences: Traccar's
// defaults for everyone.
type DefaultRules struct{}

// TripRules returns trips.DefaultRules.
func (DefaultRules) TripRules(context.Context, string, string) (trips.Rules, error) {
	return trips.DefaultRules(), nil
}

// Live runs the machine over announced fixes.
type Live struct {
	store StateStore
	rules RulesSource
}

// NewLive returns the live service.
func NewLive(store StateStore, rules RulesSource) *Live { return &Live{store: store, rules: rules} }

// Result says what one call did.
type Result struct {
	Devices int `json:"devices"`
	Fixes   int `json:"fixes"`
	Events  int `json:"events"`
	Late    int `json:"late"`       // older than the device's newest: ignored
	Repeats int `json:"duplicates"` // the device's newest again (a redelivery): ignored
}

// Observe feeds tenant's fixes to their devices' machines, each device's in
// time order.
func (l *Live) Observe(ctx context.Context, tenant string, fixes []fix.Fix) (Result, error) {
	byDevice := map[string][]fix.Fix{}
	var order []string
	for _, f := range fixes {
		if _, ok := byDevice[f.Device]; !ok {
			order = append(order, f.Device)
		}
		byDevice[f.Device] = append(byDevice[f.Device], f)
	}
	res := Result{Devices: len(order), Fixes: len(fixes)}
	for _, device := range order {
		list := byDevice[device]
		slices.SortStableFunc(list, func(a, b fix.Fix) int { return a.TS.Compare(b.TS) })
		rules, err := l.rules.TripRules(ctx, tenant, device)
		if err != nil {
			return res, fmt.Errorf("trip rules of %q: %w", device, err)
		}
		var late, repeats, emitted int
		err = l.store.Advance(ctx, tenant, device, func(s *trips.State) []Event {
			late, repeats = 0, 0
			var out []Event
			var evs []trips.Event
			for _, f := range list {
				var o trips.Outcome
				evs, o = trips.Step(rules, s, device, f, evs[:0])
				switch o {
				case trips.Late:
					late++
				case trips.Duplicate:
					repeats++
				}
				for _, e := range evs {
					out = append(out, EventOf(tenant, e))
				}
			}
			emitted = len(out)
			return out
		})
		if err != nil {
			return res, fmt.Errorf("movement of %q: %w", device, err)
		}
		res.Late += late
		res.Repeats += repeats
		res.Events += emitted
	}
	return res, nil
}

// EventOf is the event of one machine transition. Its id hashes the type,
// tenant, device and the times that identify the trip or stop, so a
// replay of the same fixes names it the same and consumers drop repeats.
func EventOf(tenant string, e trips.Event) Event {
	var typ, device string
	var at time.Time
	var key []int64
	var data any
	switch e.Kind {
	case trips.TripStarted:
		typ, device, at, data = eventtype.TripStarted, e.Trip.Device, e.Trip.Start, TripOf(e.Trip)
		key = []int64{e.Trip.Start.UnixMilli()}
	case trips.TripEnded:
		typ, device, at, data = eventtype.TripEnded, e.Trip.Device, e.Trip.End, TripOf(e.Trip)
		key = []int64{e.Trip.Start.UnixMilli(), e.Trip.End.UnixMilli()}
	case trips.StopStarted:
		typ, device, at, data = eventtype.StopStarted, e.Stop.Device, e.Stop.Start, StopOf(e.Stop)
		key = []int64{e.Stop.Start.UnixMilli()}
	case trips.StopEnded:
		typ, device, at, data = eventtype.StopEnded, e.Stop.Device, e.Stop.End, StopOf(e.Stop)
		key = []int64{e.Stop.Start.UnixMilli(), e.Stop.End.UnixMilli()}
	}
	raw, _ := json.Marshal(data) // plain structs of numbers, strings and times: cannot fail
	return Event{Type: typ, ID: eventID(typ, tenant, device, key), Subject: device, Time: at, Data: raw}
}

func eventID(typ, tenant, device string, key []int64) string {
	h := sha1.New()
	for _, s := range []string{typ, tenant, device} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, k := range key {
		h.Write(strconv.AppendInt(nil, k, 10))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
