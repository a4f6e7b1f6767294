// Package edge is the edge pipeline, the application service behind
// edge-ingest and the device protocols with EDGE_MODE=true: it drops invalid, duplicate and redundant fixes
// (internal/edgefilter), keeps every raw fix for a while, stores the kept
// ones in the edge's own hot store (so position, nearby and track answer
// during a cloud outage) and queues them in the durable outbox the forwarder
// drains to the cloud.
package edge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/preferences"
)

// counters are the edge pipeline's series in the process's registry.
type counters struct {
	received *metrics.Counter
	dropped  *metrics.CounterVec
	kept     *metrics.Counter
}

func newCounters(r *metrics.Registry) counters {
	if r == nil {
		r = metrics.NewRegistry()
	}
	return counters{
		received: r.NewCounter("geotrack_edge_received_total", "Valid fixes received by the edge pipeline."),
		dropped:  r.NewCounterVec("geotrack_edge_dropped_total", "Fixes the edge filters dropped, by reason.", "reason"),
		kept:     r.NewCounter("geotrack_edge_forwarded_total", "Fixes the edge queued for the cloud."),
	}
}

// Store is the edge's local hot store.
type Store interface {
	Save(ctx context.Context, tenant string, groups []intake.Group, now time.Time) (intake.SaveResult, error)
}

// FilterStates keeps each device's filter state between requests and
// across replicas.
type FilterStates interface {
	Load(ctx context.Context, tenant string, devices []string) (map[string]edgefilter.State, error)
	Save(ctx context.Context, tenant string, states map[string]edgefilter.State, now time.Time) error
	// Idle lists, by tenant, devices with undecided fixes older than cutoff.
	Idle(ctx context.Context, cutoff time.Time, max int64) (map[string][]string, error)
}

// RawLog keeps every valid fix received, filtered or not, for a while.
type RawLog interface {
	Append(ctx context.Context, tenant string, fixes []fix.Fix, now time.Time) error
}

// Outbox queues kept fixes for the cloud.
type Outbox interface {
	Append(ctx context.Context, tenant string, fixes []fix.Fix) error
}

// Preferences is the node's synced copy of its tenant's tracking
// preferences (preferences.Syncer).
type Preferences interface {
	For(tenant string) (preferences.Set, bool)
	FilterFor(tenant, device string, base edgefilter.Settings) (edgefilter.Settings, bool)
}

// Sink wakes the forwarder.
type Sink interface {
	Send(ctx context.Context, e event.Event) error
}

// Pipeline is the edge pipeline (an intake.Acceptor).
type Pipeline struct {
	store     Store
	outbox    Outbox
	sink      Sink
	raw       RawLog
	states    FilterStates
	prefs     Preferences
	alerts    *Alerts
	settings  Settings
	source    string
	idleAfter time.Duration
	now       func() time.Time
	counters  counters
	stripes   [64]sync.Mutex // serialise requests of one device within a process
	waking    atomic.Bool    // a wake-up of the forwarder is in flight
	wakeDue   atomic.Bool    // fixes were queued since the last wake-up was sent
}

// Ports are the edge pipeline's adapters: the edge's local hot store, its
// filter states and raw log, the outbox to the cloud and the sink that
// wakes the forwarder (nil: none).
type Ports struct {
	Store  Store
	States FilterStates
	Raw    RawLog
	Outbox Outbox
	Sink   Sink
	// Prefs, when set, applies synced preferences: paused devices and
	// privacy zones dropped first, filter settings per device.
	Prefs Preferences
	// Metrics is where the edge counters go (nil: a registry of their own).
	Metrics *metrics.Registry
	// Alerts, when set, evaluates fences and alert rules on the kept fixes
	// before they are queued for the cloud, and marks them (see Alerts).
	Alerts *Alerts
}

// NewPipeline builds the edge pipeline.
func NewPipeline(ports Ports, settings Settings, cfg Edge) *Pipeline {
	return &Pipeline{
		store:     ports.Store,
		outbox:    ports.Outbox,
		sink:      ports.Sink,
		raw:       ports.Raw,
		states:    ports.States,
		prefs:     ports.Prefs,
		alerts:    ports.Alerts,
		counters:  newCounters(ports.Metrics),
		settings:  settings,
		source:    "urn:geotrack:edge:" + cfg.NodeID,
		idleAfter: cfg.IdleAfter,
		now:       time.Now,
	}
}

// AcceptGroups implements intake.Acceptor.
func (pl *Pipeline) AcceptGroups(ctx context.Context, p auth.Principal, groups []intake.Group, rejected []intake.Rejection) (intake.Summary, error) {
	if err := intake.Authorize(p, groups); err != nil {
		return intake.Summary{}, err // auth.ErrForbidden: 403
	}
	summary := intake.Summary{Rejected: rejected, Dropped: map[string]int{}}
	if summary.Rejected == nil {
		summary.Rejected = []intake.Rejection{}
	}
	var set preferences.Set
	gated := false
	if pl.prefs != nil {
		set, gated = pl.prefs.For(p.Tenant)
	}
	byDevice := map[string][]fix.Fix{}
	for _, g := range groups {
		for _, f := range g.Fixes {
			// The first tier applies the preferences: a paused device's
			// fixes and fixes in a privacy zone are kept nowhere, not even
			// in the raw log.
			if gated {
				if reason := set.Gate(f); reason != "" {
					summary.Dropped[reason]++
					pl.counters.dropped.With(reason).Inc()
					continue
				}
			}
			byDevice[f.Device] = append(byDevice[f.Device], f)
		}
	}
	if len(byDevice) == 0 {
		return summary, nil
	}
	devices := make([]string, 0, len(byDevice))
	for d, fixes := range byDevice {
		devices = append(devices, d)
		// Batches from devices that buffered offline may be out of order;
		// the filter needs increasing time.
		sort.SliceStable(fixes, func(i, j int) bool { return fixes[i].TS.Before(fixes[j].TS) })
	}
	sort.Strings(devices)
	unlock := pl.lock(p.Tenant, devices)
	defer unlock()

	now := pl.now()
	filters, err := pl.loadFilters(ctx, p.Tenant, devices)
	if err != nil {
		return intake.Summary{}, err
	}
	var all, kept, passed []fix.Fix
	for _, d := range devices {
		for _, f := range byDevice[d] {
			all = append(all, f)
			out, reason := filters[d].Push(f, now)
			if reason == "" {
				passed = append(passed, f)
			}
			if reason != "" {
				summary.Dropped[string(reason)]++
				pl.counters.dropped.With(string(reason)).Inc()
				if reason == edgefilter.ReasonDuplicate {
					summary.Duplicates++
				}
			}
			kept = append(kept, out...)
		}
	}
	summary.Accepted = len(all)
	pl.counters.received.Add(float64(len(all)))
	// Alerts are evaluated on every fix the filters let through, also those
	// the simplification window still holds: an alert must not wait for
	// the window to close.
	if err := pl.evaluate(ctx, p.Tenant, passed); err != nil {
		return intake.Summary{}, err
	}
	if err := pl.commit(ctx, p.Tenant, all, kept, filters, now); err != nil {
		return intake.Summary{}, err
	}
	summary.Forwarded = len(kept)
	return summary, nil
}

// commit makes a request's outcome durable. Order matters for "no loss":
// the outbox first, then the filter state (which forgets the fixes it
// released), then the local store. A crash between steps only makes a
// device's resend queue the same fixes again, which the cloud deduplicates
// by device and timestamp.
func (pl *Pipeline) commit(ctx context.Context, tenant string, raw, kept []fix.Fix, filters map[string]*edgefilter.Filter, now time.Time) error {
	if err := pl.raw.Append(ctx, tenant, raw, now); err != nil {
		return err
	}
	if pl.alerts != nil && len(kept) > 0 {
		kept = pl.alerts.Mark(kept) // the cloud fires nothing for them
	}
	if err := pl.outbox.Append(ctx, tenant, kept); err != nil {
		if errors.Is(err, outbox.ErrFull) {
			// counted by the outbox in geotrack_outbox_rejected_total
			httpkit.LoggerFrom(ctx).Error("ALERT outbox full: refusing fixes until the forwarder drains it", "err", err)
			return httpkit.WithStatus(http.StatusServiceUnavailable, fmt.Errorf("outbox full: the edge cannot reach the cloud; retry later: %w", err))
		}
		return err
	}
	states := make(map[string]edgefilter.State, len(filters))
	for d, f := range filters {
		states[d] = f.State()
	}
	if err := pl.states.Save(ctx, tenant, states, now); err != nil {
		return err
	}
	if len(kept) == 0 {
		return nil
	}
	pl.counters.kept.Add(float64(len(kept)))
	if _, err := pl.store.Save(ctx, tenant, []intake.Group{{Fixes: kept}}, now); err != nil {
		return fmt.Errorf("edge store: %w", err)
	}
	pl.wake(ctx, tenant, len(kept))
	return nil
}

// evaluate runs the edge's fences and alert rules (when it has them) on
// fixes, before anything of the request is committed: a failure fails the
// request, the device sends again, and the evaluation runs again, which is
// idempotent (see Alerts.Evaluate).
func (pl *Pipeline) evaluate(ctx context.Context, tenant string, fixes []fix.Fix) error {
	if pl.alerts == nil || len(fixes) == 0 {
		return nil
	}
	return pl.alerts.Evaluate(ctx, tenant, pl.alerts.Mark(fixes))
}

// FlushIdle forwards the undecided fixes of devices that went quiet: the
// filter's window only moves when a fix arrives, so without this the last
// fixes before a device stops would wait for its next report.
func (pl *Pipeline) FlushIdle(ctx context.Context) (int, error) {
	now := pl.now()
	idle := pl.idleAfter
	if idle <= 0 {
		idle = time.Duration(pl.settings.fleet.WindowS * float64(time.Second))
	}
	cutoff := now.Add(-idle)
	quiet, err := pl.states.Idle(ctx, cutoff, 500)
	if err != nil {
		return 0, err
	}
	flushed := 0
	for tenant, devices := range quiet {
		for _, device := range devices {
			n, err := pl.flushDevice(ctx, tenant, device, now)
			if err != nil {
				return flushed, err
			}
			flushed += n
		}
	}
	return flushed, nil
}

// loadFilters returns the filters of devices: their stored state under
// their current settings, or a new filter.
func (pl *Pipeline) loadFilters(ctx context.Context, tenant string, devices []string) (map[string]*edgefilter.Filter, error) {
	states, err := pl.states.Load(ctx, tenant, devices)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*edgefilter.Filter, len(devices))
	for _, d := range devices {
		settings := pl.filterSettings(tenant, d)
		st, ok := states[d]
		if !ok {
			out[d] = edgefilter.New(settings)
			continue
		}
		f, err := edgefilter.FromState(settings, st)
		if err != nil {
			return nil, fmt.Errorf("filter state of %s: %w", d, err)
		}
		out[d] = f
	}
	return out, nil
}

// filterSettings is device's filter settings: its EDGE_DEVICE_SETTINGS entry
// (the local override), else the synced preferences over
// EDGE_FILTER_SETTINGS, else EDGE_FILTER_SETTINGS. Read per request, so a
// new sync applies without a restart.
func (pl *Pipeline) filterSettings(tenant, device string) edgefilter.Settings {
	if s, ok := pl.settings.Local(device); ok {
		return s
	}
	if pl.prefs != nil {
		if s, ok := pl.prefs.FilterFor(tenant, device, pl.settings.Fleet()); ok {
			return s
		}
	}
	return pl.settings.Fleet()
}

func (pl *Pipeline) flushDevice(ctx context.Context, tenant, device string, now time.Time) (int, error) {
	unlock := pl.lock(tenant, []string{device})
	defer unlock()
	filters, err := pl.loadFilters(ctx, tenant, []string{device})
	if err != nil {
		return 0, err
	}
	kept := filters[device].Flush()
	if err := pl.commit(ctx, tenant, nil, kept, filters, now); err != nil {
		return 0, err
	}
	return len(kept), nil
}

// wakeTimeout bounds a wake-up of the forwarder. The fixes are already in
// the durable outbox and the forwarder also runs on a timer, so a wake-up
// is only a hint: it never holds, let alone fails, the device's request.
const wakeTimeout = 2 * time.Second

// wake tells the forwarder that fixes are queued, fire-and-forget. At most
// one wake-up is in flight; requests meanwhile mark another one due, sent
// when it returns, so a burst costs two wake-ups, not one per request.
func (pl *Pipeline) wake(ctx context.Context, tenant string, n int) {
	if pl.sink == nil {
		return
	}
	pl.wakeDue.Store(true)
	if !pl.waking.CompareAndSwap(false, true) {
		return
	}
	log := httpkit.LoggerFrom(ctx)
	go func() {
		for {
			for pl.wakeDue.Swap(false) {
				pl.sendWake(log, tenant, n)
			}
			pl.waking.Store(false)
			// A request may have marked a wake-up due after the loop saw
			// none and before waking was released: take it over.
			if !pl.wakeDue.Load() || !pl.waking.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (pl *Pipeline) sendWake(log *slog.Logger, tenant string, n int) {
	e, err := events.New(pl.source, events.TypeEdgeStored, "", "", map[string]int{"queued": n})
	if err != nil {
		return
	}
	e.SetExtension(events.ExtTenant, tenant)
	ctx, cancel := context.WithTimeout(context.Background(), wakeTimeout)
	defer cancel()
	if err := pl.sink.Send(ctx, e); err != nil {
		// The forwarder also runs on a timer: a lost wake-up only delays.
		log.Warn("wake forwarder", "err", err)
	}
}

// lock takes the stripes of the devices in a fixed order (no deadlock).
func (pl *Pipeline) lock(tenant string, devices []string) func() {
	idx := map[int]bool{}
	for _, d := range devices {
		h := fnv.New32a()
		h.Write([]byte(tenant + "\x1f" + d))
		idx[int(h.Sum32()%uint32(len(pl.stripes)))] = true
	}
	order := make([]int, 0, len(idx))
	for i := range idx {
		order = append(order, i)
	}
	sort.Ints(order)
	for _, i := range order {
		pl.stripes[i].Lock()
	}
	return func() {
		for j := len(order) - 1; j >= 0; j-- {
			pl.stripes[order[j]].Unlock()
		}
	}
}
