// Package intake turns received envelopes into validated, authorised groups
// of fixes. It is shared by every function that accepts positions (ingest,
// the device protocols and the edge), so all of them reject the same inputs
// with the same messages.
package intake

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Group is the fixes of one received unit: the unit of CloudEvent dedup.
// Source and ID identify the event; when either is empty the group is not
// deduplicated as an event (its fixes still are, by device and timestamp).
type Group struct {
	Source, ID  string // empty when the unit had no CloudEvent envelope
	TraceParent string
	Fixes       []fix.Fix
	// Announce, when set, asks the store to queue an event for the fixes of
	// the group it stores now (see Announce); nil announces nothing.
	Announce *Announce
}

// Announce asks the store to queue an event announcing the fixes it stores,
// in the tenant's event outbox, atomically with the fixes: a fix is never
// stored without its event nor announced without being stored. The groups
// of one Save that share an *Announce share one event (one per atomic store
// call; a request the store splits gets one per part). A relay delivers the
// outbox to the event sink.
type Announce struct {
	Type        string // event type, e.g. events.TypeLocationUpdated
	Source      string // CloudEvents source
	TraceParent string // traceparent of the request that caused it ("" = none)
}

// ErrOutboxFull means a Save with Announce was refused because the tenant's
// event outbox is at capacity (the sink has been unreachable for long);
// nothing was written, so the client may retry later.
var ErrOutboxFull = errors.New("event outbox full")

// GroupResult is what storing one Group did. For a duplicate event nothing
// is stored and DupFixes counts all its fixes, so Accepted+DupFixes+TooOld+OverQuota
// is always len(Fixes).
type GroupResult struct {
	Duplicate bool
	// Conflict marks a duplicate event whose data differs from what was
	// first stored under its source and id: a producer reusing ids.
	Conflict bool
	Accepted int
	DupFixes int
	// TooOld counts fixes older than the history retention: not stored,
	// since retention would delete them at once.
	TooOld int
	// OverQuota counts fixes of devices refused by the tenant's device
	// quota (new devices beyond it): not stored.
	OverQuota int
	// Stored tells, per fix of the group, whether this call stored it (false
	// for a fix already in history, a fix too old and every fix of a
	// duplicate event).
	Stored []bool
}

// SaveResult sums GroupResults: Accepted+Duplicates+TooOld+OverQuota is the number of
// fixes; Conflicts counts the groups with Conflict.
type SaveResult struct {
	Accepted, Duplicates, TooOld, Conflicts, OverQuota int
	PerGroup                                           []GroupResult
	// DeviceQuota is the tenant's device quota when OverQuota > 0.
	DeviceQuota int
}

// Rejection reports one fix (or one event) that was not accepted.
type Rejection struct {
	Index int    `json:"index"`
	Event string `json:"event,omitempty"`
	Error string `json:"error"`
}

// Summary is the JSON body of an ingest response.
type Summary struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
	// TooOld counts valid fixes older than the history retention: not
	// stored (and not in Accepted), since retention would delete them at
	// once. Hint then says so in words.
	TooOld int `json:"too_old,omitempty"`
	// OverQuota counts valid fixes of new devices refused because the
	// tenant holds its device quota: not stored. Hint (and Error, when
	// nothing else of the request was stored) names the quota.
	OverQuota int    `json:"over_quota,omitempty"`
	Hint      string `json:"hint,omitempty"`
	// Error is set with a 4xx Status: why nothing was stored.
	Error string `json:"error,omitempty"`
	// Fixes dropped by reason: the edge filters' reasons, and in both tiers
	// paused and privacy_zone (tracking preferences). Forwarded, edge only:
	// fixes queued for the cloud by this request (possibly earlier ones the
	// window released).
	Dropped   map[string]int `json:"dropped,omitempty"`
	Forwarded int            `json:"forwarded,omitempty"`
}

// Status is the HTTP status for s: 400 when nothing was accepted because
// something was rejected, 403 when nothing was stored because every valid
// fix belongs to a new device beyond the tenant's device quota (a client
// retrying unchanged gets the same answer; an operator raising the quota
// fixes it), else 202 (the Knative contract for "no reply").
func (s Summary) Status() int {
	if s.Accepted == 0 && s.Duplicates == 0 && s.TooOld == 0 {
		if len(s.Rejected) > 0 {
			return http.StatusBadRequest
		}
		if s.OverQuota > 0 {
			return http.StatusForbidden
		}
	}
	return http.StatusAccepted
}

// DataDecoder decodes an envelope's data of one media type into fixes;
// subject is the default device.
type DataDecoder func(data []byte, subject string) ([]fix.Fix, error)

// Parser turns envelopes into groups.
type Parser struct {
	// Decoders by media type besides JSON (GPX, GeoJSON, ...).
	Decoders map[string]DataDecoder
	Now      func() time.Time
}

// Parse decodes and validates every fix of envs. Invalid fixes become
// rejections; a request-level problem is an error with its status (see httpkit.FromError).
func (p Parser) Parse(envs []events.Envelope) ([]Group, []Rejection, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	var (
		groups   []Group
		rejected []Rejection
		index    int
	)
	single := len(envs) == 1
	for _, env := range envs {
		fixes, errs, err := p.decode(env)
		if err != nil {
			if single {
				return nil, nil, err
			}
			rejected = append(rejected, Rejection{Index: index, Event: env.ID, Error: err.Error()})
			continue
		}
		g := Group{Source: env.Source, ID: env.ID, TraceParent: env.TraceParent}
		for i := range fixes {
			if index >= fix.MaxBatch {
				return nil, nil, &httpkit.Error{Status: http.StatusRequestEntityTooLarge, Field: "body",
					Msg: fmt.Sprintf("more than %d fixes in one request", fix.MaxBatch)}
			}
			if errs[i] == nil {
				errs[i] = fix.Validate(&fixes[i], now)
			}
			if errs[i] != nil {
				rejected = append(rejected, Rejection{Index: index, Event: env.ID, Error: errs[i].Error()})
			} else {
				g.Fixes = append(g.Fixes, fixes[i])
			}
			index++
		}
		if len(g.Fixes) > 0 {
			groups = append(groups, g)
		}
	}
	return groups, rejected, nil
}

// decode returns the fixes of one envelope with a per-fix decode error.
func (p Parser) decode(env events.Envelope) ([]fix.Fix, []error, error) {
	if env.Type != "" && env.Type != events.TypeLocationReported {
		return nil, nil, &httpkit.Error{Status: http.StatusBadRequest, Field: "type",
			Msg: fmt.Sprintf("unknown event type %q; expected %s", env.Type, events.TypeLocationReported)}
	}
	field := "content-type"
	if env.Mode != events.ModePlain {
		field = "datacontenttype"
	}
	mediaType, _, err := mime.ParseMediaType(env.ContentType)
	if err != nil {
		return nil, nil, &httpkit.Error{Status: http.StatusUnsupportedMediaType, Field: field, Msg: fmt.Sprintf("cannot parse %q", env.ContentType)}
	}
	if dec, ok := p.Decoders[mediaType]; ok {
		fixes, err := dec(env.Data, env.Subject)
		if err != nil {
			return nil, nil, asRequestError(err)
		}
		if len(fixes) > fix.MaxBatch {
			return nil, nil, &httpkit.Error{Status: http.StatusRequestEntityTooLarge, Field: "body",
				Msg: fmt.Sprintf("%d fixes in one document; the limit is %d", len(fixes), fix.MaxBatch)}
		}
		return fixes, make([]error, len(fixes)), nil
	}
	if mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json") && mediaType != "text/plain" {
		return nil, nil, &httpkit.Error{Status: http.StatusUnsupportedMediaType, Field: field,
			Msg: fmt.Sprintf("%q is not supported; send application/json, CloudEvents%s", mediaType, p.supported())}
	}
	fixes, errs, err := fix.DecodeBatch(env.Data, env.Subject)
	if err != nil {
		return nil, nil, asRequestError(err)
	}
	return fixes, errs, nil
}

func (p Parser) supported() string {
	types := make([]string, 0, len(p.Decoders))
	for mt := range p.Decoders {
		types = append(types, mt)
	}
	sort.Strings(types)
	var b strings.Builder
	for _, mt := range types {
		b.WriteString(", " + mt)
	}
	return b.String()
}

func asRequestError(err error) error {
	var fe *fix.FieldError
	if errors.As(err, &fe) {
		return &httpkit.Error{Status: http.StatusBadRequest, Field: fe.Field, Msg: fe.Msg}
	}
	return &httpkit.Error{Status: http.StatusBadRequest, Field: "body", Msg: err.Error()}
}

// Authorize checks that p may report every fix; one fix for a device the
// token may not report for fails the whole request (403), nothing stored.
func Authorize(p auth.Principal, groups []Group) error {
	for _, g := range groups {
		for _, f := range g.Fixes {
			if err := p.CanIngest(f.Device); err != nil {
				return err
			}
		}
	}
	return nil
}

// Count returns the number of fixes in groups.
func Count(groups []Group) int {
	n := 0
	for _, g := range groups {
		n += len(g.Fixes)
	}
	return n
}

// Acceptor takes validated groups on behalf of a principal: the cloud
// pipeline stores and emits them, the edge pipeline filters, stores locally
// and queues them for the cloud. Errors carry their HTTP status
// (httpkit.Error, or a domain error httpkit.FromError maps); anything else
// is a retryable 5xx.
type Acceptor interface {
	AcceptGroups(ctx context.Context, p auth.Principal, groups []Group, rejected []Rejection) (Summary, error)
}

// Validate checks fixes a protocol adapter decoded itself and returns the
// valid ones as one group (deduplicated by device+ts, not by event) plus a
// rejection per invalid fix.
func (p Parser) Validate(fixes []fix.Fix) (Group, []Rejection) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	var g Group
	var rejected []Rejection
	for i := range fixes {
		if err := fix.Validate(&fixes[i], now); err != nil {
			rejected = append(rejected, Rejection{Index: i, Error: err.Error()})
			continue
		}
		g.Fixes = append(g.Fixes, fixes[i])
	}
	return g, rejected
}

// Groups wraps g for an Acceptor, dropping it when empty.
func (g Group) Groups() []Group {
	if len(g.Fixes) == 0 {
		return nil
	}
	return []Group{g}
}

// DeviceQuotaReached is the reason a new device of tenant is refused when
// the tenant holds quota devices.
func DeviceQuotaReached(tenant string, quota int) string {
	return fmt.Sprintf("device quota of tenant %s reached (%d devices)", tenant, quota)
}
