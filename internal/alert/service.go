package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// Outcome is what the store did with a fired alert.
type Outcome int

const (
	Queued     Outcome = iota // stored, queued for delivery, event emitted
	Duplicate                 // an alert with this id exists: the cause came again
	Suppressed                // the rule fired for the device within its cooldown
)

// StateKey names the threshold state of one rule and device.
type StateKey struct{ Rule, Device string }

// Store is the storage the engine needs (internal/redisstore implements it).
type Store interface {
	Rules(ctx context.Context, tenant string) ([]Rule, error)
	States(ctx context.Context, tenant string, keys []StateKey) (map[StateKey]State, error)
	SaveStates(ctx context.Context, tenant string, states map[StateKey]State) error
	// Fire stores f, queues its delivery and emits it, atomically, unless
	// its id exists or the rule's cooldown for the device runs.
	Fire(ctx context.Context, f Fired, e Emitted) (Outcome, error)
	// LastFixes is each device's latest fix: its time, and the edge node
	// that marked it (fix.AttrEdgeAlerts; that node sweeps the device).
	LastFixes(ctx context.Context, tenant string) (map[string]LastFix, error)
	// Tenants with rules.
	Tenants(ctx context.Context) ([]string, error)
}

// LastFix is what the silence sweep knows of a device's latest fix.
type LastFix struct {
	At   time.Time
	Edge string // the edge node whose rules evaluate the device ("": none)
}

// Engine decides which rules fire for an event or a silence sweep.
type Engine struct {
	store  Store
	source string
	now    func() time.Time
	node   string // the edge node it runs on ("" in the cloud)
}

// AtEdge makes the engine the one of edge node: it fires for the fixes that
// node marked (fix.AttrEdgeAlerts) and the events they caused. Every engine
// skips what another node marked: that node fired its alerts.
func (e *Engine) AtEdge(node string) *Engine {
	e.node = node
	return e
}

// firedElsewhere reports whether an edge node other than this engine's
// fired the alerts of what it evaluated.
func (e *Engine) firedElsewhere(node string) bool { return node != "" && node != e.node }

// NewEngine builds an engine emitting alerts with the given source.
func NewEngine(store Store, source string) *Engine {
	return &Engine{store: store, source: source, now: time.Now}
}

// Summary counts what one evaluation did.
type Summary struct {
	Fired      int `json:"fired"`
	Duplicate  int `json:"duplicate"`
	Suppressed int `json:"suppressed"`
	// Edge counts fixes and events whose alerts an edge node fired
	// (fix.AttrEdgeAlerts): evaluated there, skipped here.
	Edge int `json:"edge,omitempty"`
}

func (s *Summary) add(o Outcome) {
	switch o {
	case Queued:
		s.Fired++
	case Duplicate:
		s.Duplicate++
	case Suppressed:
		s.Suppressed++
	}
}

// ErrBadEvent wraps an event the engine cannot read (HTTP 400).
var ErrBadEvent = errors.New("bad event")

// Handle evaluates the tenant's rules against one event.
func (e *Engine) Handle(ctx context.Context, tenant string, ev Event) (Summary, error) {
	rules, err := e.store.Rules(ctx, tenant)
	if err != nil {
		return Summary{}, err
	}
	if ev.Type == eventtype.LocationUpdated {
		return e.thresholds(ctx, tenant, rules, ev)
	}
	var sum Summary
	if !slices.Contains(EventTypes, ev.Type) {
		return sum, nil // an event no rule can be on
	}
	// Geofence and trip/stop events carry the device in their data.
	var d GeofenceData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return sum, fmt.Errorf("%w: data of %s: %v", ErrBadEvent, ev.Type, err)
	}
	if d.Device == "" {
		d.Device = ev.Subject
	}
	if e.firedElsewhere(d.Edge) {
		sum.Edge++
		return sum, nil
	}
	for _, r := range rules {
		if !r.Selects(ev.Type, d.Device, d.Fence) {
			continue
		}
		f := e.fired(tenant, r, d.Device, ev.Structured, AlertID(tenant, r.ID, d.Device, ev.Source, causeID(ev)))
		if err := e.fire(ctx, f, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// thresholds steps each threshold rule through the event's fixes, in time
// order per device, and fires where a condition starts to hold.
func (e *Engine) thresholds(ctx context.Context, tenant string, rules []Rule, ev Event) (Summary, error) {
	var sum Summary
	rules = slices.DeleteFunc(slices.Clone(rules), func(r Rule) bool {
		k := r.Kind()
		return !slices.Contains(r.On, eventtype.LocationUpdated) || k == KindSilence || k == KindEvent
	})
	if len(rules) == 0 {
		return sum, nil
	}
	fixes, _, err := fix.DecodeBatch(ev.Data, ev.Subject)
	if err != nil {
		return sum, fmt.Errorf("%w: data of %s: %v", ErrBadEvent, ev.Type, err)
	}
	fixes = slices.DeleteFunc(fixes, func(f fix.Fix) bool {
		if e.firedElsewhere(f.EdgeEvaluated()) {
			sum.Edge++
			return true
		}
		return f.Device == ""
	})
	slices.SortStableFunc(fixes, func(a, b fix.Fix) int { return a.TS.Compare(b.TS) })
	var keys []StateKey
	selected := map[StateKey]bool{}
	for _, r := range rules {
		for _, f := range fixes {
			k := StateKey{r.ID, f.Device}
			if !selected[k] && r.Selects(eventtype.LocationUpdated, f.Device, "") {
				selected[k] = true
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return sum, nil
	}
	states, err := e.store.States(ctx, tenant, keys)
	if err != nil {
		return sum, err
	}
	changed := map[StateKey]State{}
	for _, r := range rules {
		for _, f := range fixes {
			k := StateKey{r.ID, f.Device}
			if !selected[k] {
				continue
			}
			next, fire := Step(r, states[k], f)
			if next != states[k] {
				states[k], changed[k] = next, next
			}
			if !fire {
				continue
			}
			id := AlertID(tenant, r.ID, f.Device, string(r.Kind()), strconv.FormatInt(f.TS.UnixMilli(), 10))
			// Fired before the state is saved: a crash in between repeats
			// the decision on redelivery, and the id makes it fire once.
			if err := e.fire(ctx, e.fired(tenant, r, f.Device, ev.Structured, id), &sum); err != nil {
				return sum, err
			}
		}
	}
	if len(changed) > 0 {
		if err := e.store.SaveStates(ctx, tenant, changed); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// Sweep fires the silence rules of every tenant: a device whose latest fix
// is older than a rule's silent_s fires once per silence (the alert id
// holds the latest fix's time, so the next sweep finds it fired).
func (e *Engine) Sweep(ctx context.Context) (Summary, error) {
	tenants, err := e.store.Tenants(ctx)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	var errs []error
	for _, tenant := range tenants {
		if err := e.sweepTenant(ctx, tenant, &sum); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenant, err))
		}
	}
	return sum, errors.Join(errs...)
}

func (e *Engine) sweepTenant(ctx context.Context, tenant string, sum *Summary) error {
	rules, err := e.store.Rules(ctx, tenant)
	if err != nil {
		return err
	}
	rules = slices.DeleteFunc(rules, func(r Rule) bool { return r.Kind() != KindSilence })
	if len(rules) == 0 {
		return nil
	}
	last, err := e.store.LastFixes(ctx, tenant)
	if err != nil {
		return err
	}
	now := e.now()
	devices := make([]string, 0, len(last))
	for d := range last {
		devices = append(devices, d)
	}
	slices.Sort(devices)
	for _, r := range rules {
		for _, d := range devices {
			if !r.Selects(eventtype.LocationUpdated, d, "") || !Silent(r, last[d].At, now) {
				continue
			}
			if e.firedElsewhere(last[d].Edge) {
				sum.Edge++ // that edge node's notify sweeps it
				continue
			}
			f := e.fired(tenant, r, d, nil, AlertID(tenant, r.ID, d, string(KindSilence), strconv.FormatInt(last[d].At.UnixMilli(), 10)))
			f.LastFix = last[d].At
			if err := e.fire(ctx, f, sum); err != nil {
				return err
			}
		}
	}
	return nil
}

// causeID identifies an event: its id, or for an event without one (a
// plain body) a digest of its data.
func causeID(ev Event) string {
	if ev.ID != "" {
		return ev.ID
	}
	sum := sha256.Sum256(ev.Data)
	return "data:" + hex.EncodeToString(sum[:])
}

func (e *Engine) fired(tenant string, r Rule, device string, cause json.RawMessage, id string) Fired {
	return Fired{ID: id, Tenant: tenant, Rule: r, Device: device, At: e.now().UTC(), Cause: cause,
		Cooldown: time.Duration(r.CooldownS) * time.Second}
}

func (e *Engine) fire(ctx context.Context, f Fired, sum *Summary) error {
	emitted, err := f.Event(e.source)
	if err != nil {
		return err
	}
	o, err := e.store.Fire(ctx, f, emitted)
	if err != nil {
		return fmt.Errorf("fire alert %s of rule %s: %w", f.ID, f.Rule.ID, err)
	}
	sum.add(o)
	return nil
}
