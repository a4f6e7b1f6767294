package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
)

// Detector evaluates fixes against the tenant's fences (geofence.Detector).
type Detector interface {
	Detect(ctx context.Context, tenant string, fixes []fix.Fix, traceParent string) (geofence.Result, error)
}

// RuleEngine evaluates the tenant's alert rules (alert.Engine, AtEdge).
type RuleEngine interface {
	Handle(ctx context.Context, tenant string, ev alert.Event) (alert.Summary, error)
}

// Alerts is geofence-detect and notify's rule evaluation run in the edge
// pipeline, on the fixes it keeps, so alerts keep firing while the cloud is
// away. Deliveries are queued in the edge Redis; the edge's notify delivers
// them and sweeps for silent devices. The fixes are marked
// (fix.AttrEdgeAlerts) before they are forwarded, and the cloud fires
// nothing for marked fixes: each alert fires once, at the edge.
//
// There is no event broker at an edge site, and every relay of one Redis
// drains every outbox to one sink, so the edge does this in the process
// that accepted the fixes rather than through events.
type Alerts struct {
	Node     string // EDGE_NODE_ID: the marker's value
	Detector Detector
	Rules    RuleEngine
	Source   string // CloudEvents source of the location events the rules see
}

// Mark returns fixes with this node's marker set (copies: the caller's
// fixes and their attribute maps are not changed).
func (a *Alerts) Mark(fixes []fix.Fix) []fix.Fix {
	out := make([]fix.Fix, len(fixes))
	for i, f := range fixes {
		attrs := make(map[string]string, len(f.Attrs)+1)
		maps.Copy(attrs, f.Attrs)
		attrs[fix.AttrEdgeAlerts] = a.Node
		f.Attrs = attrs
		out[i] = f
	}
	return out
}

// Evaluate runs detection and the rules on marked fixes of tenant. It is
// idempotent: detection ignores fixes not newer than a device's last
// evaluated one and every alert has a deterministic id, so a request that
// failed after it and is sent again fires nothing twice.
func (a *Alerts) Evaluate(ctx context.Context, tenant string, fixes []fix.Fix) error {
	if len(fixes) == 0 {
		return nil
	}
	loc, err := a.locationEvent(tenant, fixes)
	if err != nil {
		return err
	}
	if _, err := a.Rules.Handle(ctx, tenant, loc); err != nil {
		return fmt.Errorf("edge alert rules: %w", err)
	}
	res, err := a.Detector.Detect(ctx, tenant, fixes, "")
	if err != nil {
		return fmt.Errorf("edge geofence detection: %w", err)
	}
	for _, e := range res.Emitted {
		if _, err := a.Rules.Handle(ctx, tenant, alert.Event{ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
			Time: e.Time, Data: e.Data, Structured: e.Structured}); err != nil {
			return fmt.Errorf("edge alert rules: %w", err)
		}
	}
	return nil
}

// locationEvent is the io.geotrack.location.updated event the cloud would
// have announced for fixes: what threshold rules evaluate and what their
// alerts carry as cause. Its id is a digest of tenant and data, so the same
// fixes make the same event.
func (a *Alerts) locationEvent(tenant string, fixes []fix.Fix) (alert.Event, error) {
	data, err := json.Marshal(fixes)
	if err != nil {
		return alert.Event{}, fmt.Errorf("encode location event: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(tenant))
	h.Write([]byte{0x1f})
	h.Write(data)
	id := hex.EncodeToString(h.Sum(nil)[:16])
	subject := ""
	if len(fixes) > 0 {
		subject = fixes[0].Device
		for _, f := range fixes[1:] {
			if f.Device != subject {
				subject = ""
				break
			}
		}
	}
	t := time.Now().UTC()
	m := map[string]any{"specversion": "1.0", "id": id, "source": a.Source, "type": eventtype.LocationUpdated,
		"tenant": tenant, "datacontenttype": "application/json", "data": json.RawMessage(data)}
	if subject != "" {
		m["subject"] = subject
	}
	structured, err := json.Marshal(m)
	if err != nil {
		return alert.Event{}, fmt.Errorf("encode location event: %w", err)
	}
	return alert.Event{ID: id, Source: a.Source, Type: eventtype.LocationUpdated, Subject: subject, Time: t,
		Data: data, Structured: structured}, nil
}
