// Package cloud is the cloud ingest pipeline, the application service
// behind ingest and the device protocols in cloud mode: it stores validated
// fixes once in the hot store and announces the fixes stored for the first
// time with io.geotrack.location.updated, through the event outbox.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
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

// Gate keeps out the fixes tracking preferences exclude: a reason
// (preferences.ReasonPaused, ReasonPrivacyZone) or "" to keep the fix.
type Gate interface {
	Gate(ctx context.Context, tenant string, f fix.Fix) (string, error)
}

// Relay delivers the event outbox; Wake asks it to look at a tenant's now.
type Relay interface {
	Wake(tenant string)
}

// Pipeline is the cloud pipeline: authorise, store once, and announce the
// fixes stored for the first time with io.geotrack.location.updated, queued
// in the event outbox atomically with the fixes (intake.Announce) and
// delivered by the relay: the request never waits on the sink.
type Pipeline struct {
	Store Store
	// Relay, when set, turns announcing on (an event sink is configured);
	// nil queues nothing, so the outbox cannot grow without a relay.
	Relay  Relay
	Source string // CloudEvents source of emitted events
	Now    func() time.Time
	// Conflicts counts duplicate event ids delivered with other data
	// (NewConflictCounter); nil: they are only logged.
	Conflicts *metrics.Counter
	// OverQuota counts fixes refused by the tenant's device quota
	// (NewOverQuotaCounter); nil: only the reply says.
	OverQuota *metrics.Counter
	// Gate, when set, drops the fixes preferences exclude before anything
	// is stored (counted in Dropped, by reason).
	Gate    Gate
	Dropped *metrics.CounterVec // NewDroppedCounter; nil: only the reply says
	// Retention and Trim, when set, apply a device's retention preference
	// shorter than the store's: after a save, its older history is removed.
	Retention Retention
	Trim      Trimmer
}

// Retention gives a device's hot history retention preference (0: none).
type Retention interface {
	Retention(ctx context.Context, tenant, device string) (time.Duration, error)
}

// Trimmer removes a device's history older than before.
type Trimmer interface {
	TrimHistory(ctx context.Context, tenant, device string, before time.Time) error
}

// trim applies the devices' retention preferences after a save. A failure
// is logged: the fixes are stored, the next save trims again.
func (pl *Pipeline) trim(ctx context.Context, tenant string, groups []intake.Group, now time.Time) {
	if pl.Retention == nil || pl.Trim == nil {
		return
	}
	done := map[string]bool{}
	for _, g := range groups {
		for _, f := range g.Fixes {
			if done[f.Device] {
				continue
			}
			done[f.Device] = true
			r, err := pl.Retention.Retention(ctx, tenant, f.Device)
			if err == nil && r > 0 {
				err = pl.Trim.TrimHistory(ctx, tenant, f.Device, now.Add(-r))
			}
			if err != nil {
				httpkit.LoggerFrom(ctx).Warn("retention preference not applied", "device", f.Device, "err", err)
			}
		}
	}
}

// NewOverQuotaCounter registers geotrack_ingest_over_quota_total.
func NewOverQuotaCounter(r *metrics.Registry) *metrics.Counter {
	return r.NewCounter("geotrack_ingest_over_quota_total",
		"Valid fixes not stored because their device is new and its tenant holds its device quota (DEVICE_QUOTA or the tenant's override).")
}

// NewDroppedCounter registers geotrack_ingest_dropped_total{reason}.
func NewDroppedCounter(r *metrics.Registry) *metrics.CounterVec {
	return r.NewCounterVec("geotrack_ingest_dropped_total", "Valid fixes not stored because of tracking preferences, by reason (paused, privacy_zone).", "reason")
}

// gate removes the fixes the preferences exclude, counting them by reason.
func (pl *Pipeline) gate(ctx context.Context, tenant string, groups []intake.Group, summary *intake.Summary) ([]intake.Group, error) {
	if pl.Gate == nil {
		return groups, nil
	}
	out := groups[:0:0]
	for _, g := range groups {
		kept := g.Fixes[:0:0]
		for _, f := range g.Fixes {
			reason, err := pl.Gate.Gate(ctx, tenant, f)
			if err != nil {
				return nil, fmt.Errorf("tracking preferences: %w", err)
			}
			if reason == "" {
				kept = append(kept, f)
				continue
			}
			if summary.Dropped == nil {
				summary.Dropped = map[string]int{}
			}
			summary.Dropped[reason]++
			if pl.Dropped != nil {
				pl.Dropped.With(reason).Inc()
			}
		}
		if len(kept) > 0 {
			g.Fixes = kept
			out = append(out, g)
		}
	}
	return out, nil
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
	groups, err := pl.gate(ctx, p.Tenant, groups, &summary)
	if err != nil {
		return intake.Summary{}, err
	}
	if len(groups) == 0 {
		return summary, nil
	}
	now := time.Now
	if pl.Now != nil {
		now = pl.Now
	}
	res, err := pl.Store.Save(ctx, p.Tenant, pl.announced(groups), now())
	if errors.Is(err, intake.ErrOutboxFull) {
		// counted by the relay's depth gauge; alert on it
		httpkit.LoggerFrom(ctx).Error("ALERT event outbox full: refusing fixes until the relay drains it", "tenant", p.Tenant, "err", err)
		// The sink has been unreachable for long: an outage of a
		// dependency, 503 with Retry-After; nothing was stored.
		return intake.Summary{}, dependency.Unavailable("event sink", err)
	}
	if err != nil {
		return intake.Summary{}, err // retryable 503/5xx: the script marks nothing seen unless it stored
	}
	summary.Accepted, summary.Duplicates, summary.TooOld = res.Accepted, res.Duplicates, res.TooOld
	if res.Accepted > 0 {
		pl.trim(ctx, p.Tenant, groups, now())
	}
	if res.TooOld > 0 {
		summary.Hint = fmt.Sprintf("%d fixes are older than the history retention (HISTORY_RETENTION) and were not stored", res.TooOld)
	}
	if res.OverQuota > 0 {
		if pl.OverQuota != nil {
			pl.OverQuota.Add(float64(res.OverQuota))
		}
		summary.OverQuota = res.OverQuota
		reason := intake.DeviceQuotaReached(p.Tenant, res.DeviceQuota)
		hint := fmt.Sprintf("%s: %d fixes of new devices were not stored", reason, res.OverQuota)
		if summary.Hint != "" {
			hint = summary.Hint + "; " + hint
		}
		summary.Hint = hint
		if summary.Status() == http.StatusForbidden {
			summary.Error = reason
		}
	}
	if res.Conflicts > 0 {
		pl.logConflicts(ctx, p.Tenant, groups, res)
	}
	if res.Accepted > 0 && pl.Relay != nil {
		pl.Relay.Wake(p.Tenant)
	}
	return summary, nil
}

// announced is groups as the store gets them: with a relay, all of them
// share one Announce, so the request's stored fixes are one event carrying
// the first traceparent; without one, groups as they are (nothing queued).
func (pl *Pipeline) announced(groups []intake.Group) []intake.Group {
	if pl.Relay == nil {
		return groups
	}
	ann := &intake.Announce{Type: events.TypeLocationUpdated, Source: pl.Source}
	for _, g := range groups {
		if g.TraceParent != "" {
			ann.TraceParent = g.TraceParent
			break
		}
	}
	out := make([]intake.Group, len(groups))
	for i, g := range groups {
		g.Announce = ann
		out[i] = g
	}
	return out
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
