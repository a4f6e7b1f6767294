package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/respond"
	"github.com/geotrack/geotrack/internal/runtime"
)

// Store keeps accepted fixes, deduplicating by event and by device+ts.
type Store interface {
	Save(ctx context.Context, tenant string, groups []redisstore.Group, now time.Time) (redisstore.SaveResult, error)
}

// Relay delivers the event outbox; Wake asks it to look at a tenant's now.
type Relay interface {
	Wake(tenant string)
}

// Pipeline is the cloud pipeline: authorise, store once, and announce the
// fixes stored for the first time with io.geotrack.location.updated, queued
// in the event outbox atomically with the fixes (redisstore.Announce) and
// delivered by the relay: the request never waits on the sink.
type Pipeline struct {
	Store Store
	// Relay, when set, turns announcing on (an event sink is configured);
	// nil queues nothing, so the outbox cannot grow without a relay.
	Relay  Relay
	Source string // CloudEvents source of emitted events
	Now    func() time.Time
}

// AcceptGroups implements intake.Acceptor.
func (pl *Pipeline) AcceptGroups(ctx context.Context, p auth.Principal, groups []intake.Group, rejected []intake.Rejection) (intake.Summary, error) {
	if err := intake.Authorize(p, groups); err != nil {
		return intake.Summary{}, respond.WithStatus(http.StatusForbidden, err)
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
	res, err := pl.Store.Save(ctx, p.Tenant, pl.toStoreGroups(groups), now())
	if errors.Is(err, redisstore.ErrOutboxFull) {
		// counted by the relay's depth gauge; alert on it
		runtime.LoggerFrom(ctx).Error("ALERT event outbox full: refusing fixes until the relay drains it", "tenant", p.Tenant, "err", err)
		return intake.Summary{}, respond.WithStatus(http.StatusServiceUnavailable,
			fmt.Errorf("event outbox full: the event sink has been unreachable for long; retry later: %w", err))
	}
	if err != nil {
		return intake.Summary{}, err // retryable 5xx: the script marks nothing seen unless it stored
	}
	summary.Accepted, summary.Duplicates = res.Accepted, res.Duplicates
	if res.Accepted > 0 && pl.Relay != nil {
		pl.Relay.Wake(p.Tenant)
	}
	return summary, nil
}

// toStoreGroups converts the request's groups; with a relay, all of them
// share one Announce, so the request's stored fixes are one event carrying
// the first traceparent.
func (pl *Pipeline) toStoreGroups(groups []intake.Group) []redisstore.Group {
	var ann *redisstore.Announce
	if pl.Relay != nil {
		ann = &redisstore.Announce{Type: events.TypeLocationUpdated, Source: pl.Source}
		for _, g := range groups {
			if g.TraceParent != "" {
				ann.TraceParent = g.TraceParent
				break
			}
		}
	}
	out := make([]redisstore.Group, len(groups))
	for i, g := range groups {
		out[i] = redisstore.Group{Source: g.Source, ID: g.ID, Fixes: g.Fixes, Announce: ann}
	}
	return out
}
