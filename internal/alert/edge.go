package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/geotrack/geotrack/internal/fix"
)

// Alerts fired at an edge node reach the cloud's listing: the edge's
// forwarder sends their records up (POST alerts?node=<node>, with the
// edge's service token) once when they fire and again when their delivery
// ends (delivered or dead). The cloud stores each by its id: a record sent
// again changes nothing, a later delivery state replaces an earlier one,
// and the cloud never queues it for delivery (the edge delivered it).

// MaxEdgeReport bounds the records of one report.
const MaxEdgeReport = 200

// maxErrorLen bounds a reported delivery error.
const maxErrorLen = 1000

// EdgeReport is the body of POST alerts?node=: records of alerts one edge
// node fired for the token's tenant. Unknown fields are ignored, so an
// edge node newer than the cloud can still report.
type EdgeReport struct {
	Alerts []Record `json:"alerts"`
}

// Uplinked is an edge alert record waiting to go up, with its mark (when
// it was marked, later than any earlier mark of it): acked only while
// unchanged, so a delivery state recorded while the record was on its way
// goes up too.
type Uplinked struct {
	Record Record
	Mark   int64
}

// Uplink is the edge's queue of alert records for the cloud
// (redisstore.Alerts marks an alert when it fires and when its delivery
// ends, on a store made AtEdge).
type Uplink interface {
	UplinkTenants(ctx context.Context) ([]string, error)
	PeekUplink(ctx context.Context, tenant string, limit int) ([]Uplinked, error)
	AckUplink(ctx context.Context, tenant string, sent []Uplinked) error
}

// Imported counts what the cloud did with an edge report.
type Imported struct {
	Added     int `json:"added"`     // new in the listing
	Updated   int `json:"updated"`   // a later delivery state
	Unchanged int `json:"unchanged"` // known already (or past the retention)
}

// ErrFiredAtEdge: an alert an edge node fired and delivers; the cloud
// does not replay it.
var ErrFiredAtEdge = errors.New("fired and delivered at an edge node")

// DecodeEdgeReport decodes and validates a report for tenant. Errors are
// *fix.FieldError naming the field (HTTP 400): every record must be a
// complete alert of the tenant, its event the io.geotrack.alert.fired
// CloudEvent with the record's id and the tenant.
func DecodeEdgeReport(data []byte, tenant string) ([]Record, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldErr("body", `empty: expected {"alerts":[...]}`)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var rep EdgeReport
	if err := dec.Decode(&rep); err != nil {
		return nil, jsonFieldError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fieldErr("body", "trailing data after the report object")
	}
	if len(rep.Alerts) == 0 {
		return nil, fieldErr("alerts", "required: at least one alert record")
	}
	if len(rep.Alerts) > MaxEdgeReport {
		return nil, fieldErr("alerts", "%d records; a report holds at most %d", len(rep.Alerts), MaxEdgeReport)
	}
	for i := range rep.Alerts {
		if err := rep.Alerts[i].validateReported(tenant); err != nil {
			var fe *fix.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("alerts[%d].%s", i, fe.Field)
			}
			return nil, err
		}
		rep.Alerts[i].NextAttempt = nil // the edge's schedule, not the cloud's
	}
	return rep.Alerts, nil
}

func (r Record) validateReported(tenant string) error {
	switch {
	case !strings.HasPrefix(r.ID, "al_") || !fix.ValidDevice(r.ID):
		return fieldErr("id", "not an alert id (al_...)")
	case !fix.ValidDevice(r.Rule):
		return fieldErr("rule", "not a rule id")
	case len(r.Name) > MaxNameLen || !utf8.ValidString(r.Name):
		return fieldErr("name", "at most %d bytes of UTF-8", MaxNameLen)
	case !knownKind(r.Kind):
		return fieldErr("kind", "%q is not a rule kind", clipped(string(r.Kind)))
	case !fix.ValidDevice(r.Device):
		return fieldErr("device", "not a device id")
	case r.FiredAt.IsZero() || r.FiredAt.Year() < 2000 || r.FiredAt.Year() > 9999:
		return fieldErr("fired_at", "required: when the alert fired")
	case r.State != StatePending && r.State != StateDelivered && r.State != StateDead:
		return fieldErr("state", "%q is not pending, delivered or dead", clipped(r.State))
	case r.Attempts < 0 || r.Attempts > 1_000_000:
		return fieldErr("attempts", "out of range")
	case r.LastStatus < 0 || r.LastStatus > 999:
		return fieldErr("last_status", "not an HTTP status")
	case len(r.LastError) > maxErrorLen || !utf8.ValidString(r.LastError):
		return fieldErr("last_error", "at most %d bytes of UTF-8", maxErrorLen)
	case r.DoneAt != nil && (r.DoneAt.Year() < 2000 || r.DoneAt.Year() > 9999):
		return fieldErr("done_at", "out of range")
	}
	var ce struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Tenant string `json:"tenant"`
	}
	if len(r.Event) == 0 || json.Unmarshal(r.Event, &ce) != nil {
		return fieldErr("event", "required: the io.geotrack.alert.fired CloudEvent object")
	}
	switch {
	case ce.ID != r.ID:
		return fieldErr("event.id", "not the record's id")
	case ce.Type != TypeAlertFired:
		return fieldErr("event.type", "not %s", TypeAlertFired)
	case ce.Tenant != tenant:
		return fieldErr("event.tenant", "not the token's tenant")
	}
	return nil
}

func knownKind(k Kind) bool {
	switch k {
	case KindEvent, KindSpeed, KindBattery, KindFlag, KindSilence:
		return true
	}
	return false
}

// ValidateSynced checks a rule as the cloud hands it to an edge node
// (GET rules?all=true): what DecodeRule accepts, with its id and the
// secret the edge signs with. The URL is checked for syntax only: the
// edge's delivery client applies its own address policy.
func (r Rule) ValidateSynced() error {
	if !fix.ValidDevice(r.ID) {
		return fieldErr("id", "not a rule id")
	}
	if r.Webhook.Secret == "" {
		return fieldErr("webhook.secret", "required: the edge signs what it delivers")
	}
	return r.validate(URLPolicy{AllowPrivate: true})
}
