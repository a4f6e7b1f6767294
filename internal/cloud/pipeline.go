// Package cloud is the cloud ingest pipeline, the application service
// behind ingest and the device protocols in cloud mode: it stores validated
// fixes once in the hot store and emits io.geotrack.location.updated with
// the fixes stored for the first time.
package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
)

// Store keeps accepted fixes, deduplicating by event and by device+ts.
type Store interface {
	Save(ctx context.Context, tenant string, groups []intake.Group, now time.Time) (intake.SaveResult, error)
}

// Sink receives the events the pipeline emits.
type Sink = events.Sink

// Pipeline is the cloud pipeline: authorise, store once, emit
// io.geotrack.location.updated with the fixes stored for the first time.
type Pipeline struct {
	Store  Store
	Sink   Sink
	Source string // CloudEvents source of emitted events
	Now    func() time.Time
	// Conflicts counts duplicate event ids delivered with other data
	// (NewConflictCounter); nil: they are only logged.
	Conflicts *metrics.Counter
}

// AcceptGroups implements intake.Acceptor.
func (pl *Pipeline) AcceptGroups(ctx context.Context, p auth.Principal, groups []intake.Group, rejected []intake.Rejection) (intake.Summary, error) {
	if err := intake.Authorize(p, groups); err != nil {
		return intake.Summary{}, err // auth.ErrForbidden: 403
	}
	summary := intake.Summary{Rejected: rejected}
	if summary.Rejected == nil {
		summary.Rejected = []intake.Rejection{}
	}
	if len(groups) == 0 {
		return summary, nil
	}
	now := time.Now
	if pl.Now != nil {
		now = pl.Now
	}
	res, err := pl.Store.Save(ctx, p.Tenant, groups, now())
	if err != nil {
		return intake.Summary{}, err // retryable 503/5xx: the script marks nothing seen unless it stored
	}
	summary.Accepted, summary.Duplicates, summary.TooOld = res.Accepted, res.Duplicates, res.TooOld
	if res.TooOld > 0 {
		summary.Hint = fmt.Sprintf("%d fixes are older than the history retention (HISTORY_RETENTION) and were not stored", res.TooOld)
	}
	if res.Conflicts > 0 {
		pl.logConflicts(ctx, p.Tenant, groups, res)
	}
	pl.emitUpdated(ctx, p.Tenant, groups, res)
	return summary, nil
}

// NewConflictCounter registers geotrack_ingest_duplicate_conflicts_total,
// the Pipeline's Conflicts, in r (the process's registry; registering again
// returns the same counter).
func NewConflictCounter(r *metrics.Registry) *metrics.Counter {
	return r.NewCounter("geotrack_ingest_duplicate_conflicts_total",
		"Duplicate CloudEvent ids (same source and id) whose data differs from the first delivery's; not stored.")
}

// logConflicts reports events dropped as duplicates although their data
// differs from the first delivery: right by CloudEvents, but silent data loss
// for a producer that reuses ids, so it is counted and logged.
func (pl *Pipeline) logConflicts(ctx context.Context, tenant string, groups []intake.Group, res intake.SaveResult) {
	log := httpkit.LoggerFrom(ctx)
	for i, gr := range res.PerGroup {
		if !gr.Conflict || i >= len(groups) {
			continue
		}
		if pl.Conflicts != nil {
			pl.Conflicts.Inc()
		}
		log.Warn("duplicate event id with different data: not stored; the producer reuses CloudEvent ids",
			"tenant", tenant, "ce_source", groups[i].Source, "ce_id", groups[i].ID, "fixes", len(groups[i].Fixes))
	}
}

// emitUpdated publishes the newly stored fixes, one event per request. A sink
// failure is logged, not returned: the fixes are stored, and a retry would be
// deduplicated without re-emitting anyway.
func (pl *Pipeline) emitUpdated(ctx context.Context, tenant string, groups []intake.Group, res intake.SaveResult) {
	if res.Accepted == 0 || !events.Enabled(pl.Sink) {
		return
	}
	var fixes []fix.Fix
	trace := ""
	for i, g := range groups {
		if i >= len(res.PerGroup) || res.PerGroup[i].Duplicate {
			continue
		}
		stored := res.PerGroup[i].Stored
		for j, f := range g.Fixes {
			if j < len(stored) && stored[j] {
				fixes = append(fixes, f)
			}
		}
		if trace == "" {
			trace = g.TraceParent
		}
	}
	if len(fixes) == 0 {
		return
	}
	subject := fixes[0].Device
	for _, f := range fixes {
		if f.Device != subject {
			subject = ""
			break
		}
	}
	log := httpkit.LoggerFrom(ctx)
	// The data is encoded here with the fixes' own encoder: one pass, no
	// reflection (this runs for every accepted request).
	data := make([]byte, 0, 160*len(fixes))
	data = append(data, '[')
	for i, f := range fixes {
		if i > 0 {
			data = append(data, ',')
		}
		data = f.AppendJSON(data)
	}
	data = append(data, ']')
	e, err := events.New(pl.Source, events.TypeLocationUpdated, subject, trace, json.RawMessage(data))
	if err != nil {
		log.Error("build location.updated event", "err", err)
		return
	}
	e.SetExtension(events.ExtTenant, tenant)
	if err := pl.Sink.Send(ctx, e); err != nil {
		log.Error("emit location.updated", "err", err, "event_id", e.ID())
	}
}
