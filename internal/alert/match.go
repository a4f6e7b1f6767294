package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Event is a received CloudEvent as the engine sees it.
type Event struct {
	ID      string
	Source  string
	Type    string
	Subject string
	Time    time.Time
	Data    json.RawMessage
	// Structured is the event as one structured-mode CloudEvent JSON
	// object: the "event" the fired alert carries.
	Structured json.RawMessage
}

// GeofenceData is the data of the geofence events (issue 9 §2).
type GeofenceData struct {
	Device string    `json:"device"`
	Fence  string    `json:"fence"`
	Name   string    `json:"name"`
	TS     time.Time `json:"ts"`
	Edge   string    `json:"edge"` // the edge node that fired its alerts
}

// Selects reports whether r looks at events of type t for device and (for
// geofence events) fence.
func (r Rule) Selects(t, device, fence string) bool {
	if !slices.Contains(r.On, t) {
		return false
	}
	if len(r.Devices) > 0 && !slices.Contains(r.Devices, device) {
		return false
	}
	if len(r.Fences) > 0 && !slices.Contains(r.Fences, fence) {
		return false
	}
	return true
}

// State is what a threshold rule remembers per device between fixes, so a
// condition fires once when it starts to hold (edge-triggered) and speed is
// timed over consecutive fixes.
type State struct {
	LastMS  int64 `json:"t,omitempty"` // ts of the latest fix evaluated, unix ms
	SinceMS int64 `json:"s,omitempty"` // speed: when it went above the limit
	Active  bool  `json:"a,omitempty"` // the condition holds and has fired
}

// Step evaluates one fix of the rule's device against a threshold rule.
// Fixes not newer than the last one evaluated change nothing (they arrive
// late or again; they cannot be ordered against what was decided). A fix
// without the measured value (no speed, no battery) changes nothing either.
func Step(r Rule, st State, f fix.Fix) (State, bool) {
	ts := f.TS.UnixMilli()
	if st.LastMS != 0 && ts <= st.LastMS {
		return st, false
	}
	w := r.When
	switch r.Kind() {
	case KindSpeed:
		if f.Speed == nil {
			return st, false
		}
		st.LastMS = ts
		if *f.Speed <= *w.SpeedAbove {
			st.SinceMS, st.Active = 0, false
			return st, false
		}
		if st.SinceMS == 0 {
			st.SinceMS = ts
		}
		if !st.Active && ts-st.SinceMS >= int64(w.ForS)*1000 {
			st.Active = true
			return st, true
		}
		return st, false
	case KindBattery:
		if f.Battery == nil {
			return st, false
		}
		return edge(st, ts, *f.Battery < *w.BatteryBelow)
	case KindFlag:
		return edge(st, ts, FlagSet(f.Attrs[w.Flag]))
	}
	return st, false
}

// edge fires when a condition starts to hold and re-arms when it stops.
func edge(st State, ts int64, holds bool) (State, bool) {
	st.LastMS = ts
	if !holds {
		st.Active = false
		return st, false
	}
	if st.Active {
		return st, false
	}
	st.Active = true
	return st, true
}

// FlagSet reports whether an attribute value counts as a raised flag:
// present and not empty, "0", "false", "no" or "off".
func FlagSet(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}

// Silent reports whether a device whose latest fix is at last has been
// silent long enough at now for a silence rule.
func Silent(r Rule, last, now time.Time) bool {
	return r.Kind() == KindSilence && !last.IsZero() && now.Sub(last) >= time.Duration(r.When.SilentS)*time.Second
}

// AlertID is the id of the alert a rule fires for a device because of one
// cause (an event's source and id, a fix's ts, a silence's last fix): the
// same cause redelivered gives the same id, which the store fires once.
func AlertID(tenant, rule, device string, cause ...string) string {
	h := sha256.New()
	for _, part := range append([]string{tenant, rule, device}, cause...) {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return "al_" + hex.EncodeToString(h.Sum(nil)[:16])
}
