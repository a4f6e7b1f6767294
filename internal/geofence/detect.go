package geofence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// DefaultReloadEvery is how often a replica checks the tenant's fence
// version: a fence change takes effect within this plus one reload.
const DefaultReloadEvery = time.Second

// FenceSource reads a tenant's fences for detection.
type FenceSource interface {
	// FenceVersion is the tenant's fence version (0: never written).
	FenceVersion(ctx context.Context, tenant string) (int64, error)
	// FenceChanges returns the fences changed after version since (all of
	// them for 0), a nil Feature for a deleted one, and the version read.
	FenceChanges(ctx context.Context, tenant string, since int64) ([]Stored, int64, error)
}

// Event is one emitted CloudEvent: its attributes, its data, and the whole
// event in structured mode (what the event log keeps).
type Event struct {
	ID, Type, Source, Subject string
	Time                      time.Time
	TraceParent               string
	Data                      json.RawMessage
	Structured                json.RawMessage
}

// StateStore keeps each device's detection state.
type StateStore interface {
	// UpdateDeviceStates reads each device's state, calls eval, and when
	// eval reports a change writes the new state and the events (to the
	// event log and the event outbox) atomically per device; on a concurrent
	// change of a device it reads it again and calls eval again. eval may be
	// called for different devices at the same time (never twice at once
	// for one device).
	UpdateDeviceStates(ctx context.Context, tenant string, devices []string,
		eval func(device string, st *DeviceState) (changed bool, evs []Event, err error)) error
}

// Detector is the application service of geofence-detect.
type Detector struct {
	Fences      FenceSource
	States      StateStore
	Evaluator   Evaluator
	Source      string        // CloudEvents source of emitted events
	ReloadEvery time.Duration // DefaultReloadEvery when 0
	Now         func() time.Time
	// Committed, when set, is told of each device's events after their
	// commit (which queued them in the outbox): the relay's wake-up.
	Committed func(ctx context.Context, tenant string, evs []Event)

	mu      sync.Mutex
	tenants map[string]*tenantFences
}

type tenantFences struct {
	mu      sync.Mutex
	version int64
	checked time.Time
	fences  map[string]*Fence
	index   *Index
}

// Result sums up one Detect call.
type Result struct {
	Fixes   int `json:"fixes"`
	Ignored int `json:"ignored"` // not newer than the device's last evaluated fix
	Events  int `json:"events"`
	// Emitted is the events committed, in device order (for a caller that
	// acts on them in the process: the edge's alert rules).
	Emitted []Event `json:"-"`
}

// Detect evaluates a tenant's fixes (one location.updated event), device by
// device in time order, and commits each device's new state with its events.
func (d *Detector) Detect(ctx context.Context, tenant string, fixes []fix.Fix, traceParent string) (Result, error) {
	idx, err := d.Index(ctx, tenant)
	if err != nil {
		return Result{}, err
	}
	byDevice := map[string][]fix.Fix{}
	var devices []string
	for _, f := range fixes {
		if _, ok := byDevice[f.Device]; !ok {
			devices = append(devices, f.Device)
		}
		byDevice[f.Device] = append(byDevice[f.Device], f)
	}
	res := Result{Fixes: len(fixes)}
	for _, fs := range byDevice {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].TS.Before(fs[j].TS) })
	}
	// The last call of eval for a device is the one committed.
	var mu sync.Mutex // guards ignored and committed: eval runs for several devices at once
	ignored := map[string]int{}
	committed := map[string][]Event{}
	err = d.States.UpdateDeviceStates(ctx, tenant, devices, func(device string, st *DeviceState) (bool, []Event, error) {
		ignoredNow := 0
		changed := false
		var evs []Event
		for _, f := range byDevice[device] {
			ok, trs := d.Evaluator.Evaluate(idx, st, device, f)
			if !ok {
				ignoredNow++
				continue
			}
			changed = true
			for _, tr := range trs {
				e, err := d.event(tenant, device, tr, traceParent, f.EdgeEvaluated())
				if err != nil {
					return false, nil, err
				}
				evs = append(evs, e)
			}
		}
		mu.Lock()
		ignored[device], committed[device] = ignoredNow, evs
		mu.Unlock()
		return changed, evs, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("detect: %w", err)
	}
	var all []Event
	for _, device := range devices {
		res.Ignored += ignored[device]
		res.Events += len(committed[device])
		all = append(all, committed[device]...)
	}
	res.Emitted = all
	if d.Committed != nil && len(all) > 0 {
		d.Committed(ctx, tenant, all)
	}
	return res, nil
}

// Index returns the tenant's fence index, reloading the fences that changed
// when the version moved and the last check is ReloadEvery old.
func (d *Detector) Index(ctx context.Context, tenant string) (*Index, error) {
	d.mu.Lock()
	if d.tenants == nil {
		d.tenants = map[string]*tenantFences{}
	}
	tf := d.tenants[tenant]
	if tf == nil {
		tf = &tenantFences{}
		d.tenants[tenant] = tf
	}
	d.mu.Unlock()

	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	every := d.ReloadEvery
	if every <= 0 {
		every = DefaultReloadEvery
	}
	tf.mu.Lock()
	defer tf.mu.Unlock()
	t := now()
	if tf.index != nil && t.Sub(tf.checked) < every {
		return tf.index, nil
	}
	v, err := d.Fences.FenceVersion(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("fence version: %w", err)
	}
	if tf.index != nil && v == tf.version {
		tf.checked = t
		return tf.index, nil
	}
	since := tf.version
	if tf.index == nil || v < tf.version {
		since = 0 // first load, or Redis lost the fences (a restart without persistence): load all
	}
	changes, v, err := d.Fences.FenceChanges(ctx, tenant, since)
	if err != nil {
		return nil, fmt.Errorf("load fences: %w", err)
	}
	if tf.fences == nil || since == 0 {
		tf.fences = make(map[string]*Fence, len(changes))
	}
	for _, c := range changes {
		if c.Feature == nil {
			delete(tf.fences, c.ID)
			continue
		}
		f, err := DecodeStored(c.Feature)
		if err != nil {
			slog.ErrorContext(ctx, "stored fence does not decode; ignored", "tenant", tenant, "fence", c.ID, "err", err)
			delete(tf.fences, c.ID)
			continue
		}
		f.ID = c.ID
		tf.fences[c.ID] = &f
	}
	list := make([]*Fence, 0, len(tf.fences))
	for _, f := range tf.fences {
		list = append(list, f)
	}
	tf.index, tf.version, tf.checked = NewIndex(list), v, t
	return tf.index, nil
}

// Event types emitted for each transition kind.
var eventTypes = map[string]string{
	Entered: eventtype.GeofenceEntered,
	Exited:  eventtype.GeofenceExited,
	Dwelled: eventtype.GeofenceDwelled,
}

// EventID is deterministic from tenant, device, fence, transition and fix
// time, so a redelivered location event yields the same ids.
func EventID(tenant, device, fence, kind string, ts time.Time) string {
	var buf [256]byte
	b := buf[:0]
	for _, s := range [...]string{tenant, device, fence, kind} {
		b = append(b, s...)
		b = append(b, 0x1f)
	}
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, 0x1f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// The data of geofence events (public contract; eventData in the tests is
// the reference, through encoding/json): device, fence, name, ts, lat, lon,
// crossed (omitted when false), edge (omitted when empty): the edge node
// that evaluated the fix and fired its alerts (fix.AttrEdgeAlerts), so
// notify elsewhere fires none for the event.

func (d *Detector) event(tenant, device string, tr Transition, traceParent, edge string) (Event, error) {
	ts := tr.TS.UTC()
	e := Event{
		ID: EventID(tenant, device, tr.FenceID, tr.Kind, tr.TS), Type: eventTypes[tr.Kind], Source: d.Source,
		Subject: device, Time: ts.Truncate(time.Millisecond), TraceParent: traceParent, // the outbox keeps ms
	}
	// The structured event embeds the data: both are written into one
	// buffer, the data a slice of it.
	b := make([]byte, 0, 384+len(tenant)+2*len(device)+len(tr.Name)+len(d.Source)+len(traceParent)+len(edge))
	b, dataStart, dataEnd := eventtype.AppendStructured(b, eventtype.Head{
		ID: e.ID, Source: e.Source, Type: e.Type, Subject: device, Time: e.Time.Format(time.RFC3339Nano),
		Tenant: tenant, TraceParent: traceParent,
	}, func(b []byte) []byte { return appendEventData(b, device, tr, edge) })
	e.Structured, e.Data = b, b[dataStart:dataEnd:dataEnd]
	return e, nil
}

// appendEventData appends the data of a geofence event (eventData).
func appendEventData(b []byte, device string, tr Transition, edge string) []byte {
	b = append(b, `{"device":`...)
	b = eventtype.AppendJSONString(b, device)
	b = append(b, `,"fence":`...)
	b = eventtype.AppendJSONString(b, tr.FenceID)
	b = append(b, `,"name":`...)
	b = eventtype.AppendJSONString(b, tr.Name)
	b = append(b, `,"ts":"`...)
	b = fix.AppendTime(b, tr.TS)
	b = append(b, `","lat":`...)
	b = appendJSONFloat(b, tr.Lat)
	b = append(b, `,"lon":`...)
	b = appendJSONFloat(b, tr.Lon)
	if tr.Crossed {
		b = append(b, `,"crossed":true`...)
	}
	if edge != "" {
		b = append(b, `,"edge":`...)
		b = eventtype.AppendJSONString(b, edge)
	}
	return append(b, '}')
}

// appendJSONFloat appends f as encoding/json writes a float64 (f finite:
// fixes are validated).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
