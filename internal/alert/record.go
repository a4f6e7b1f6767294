package alert

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Delivery states of an alert.
const (
	StatePending   = "pending"   // queued or being retried
	StateDelivered = "delivered" // a 2xx answer
	StateDead      = "dead"      // a final refusal or an exhausted horizon
)

// Record is a fired alert and its delivery state, as `alerts` lists it.
type Record struct {
	ID          string          `json:"id"`
	Rule        string          `json:"rule"`
	Name        string          `json:"name"`
	Kind        Kind            `json:"kind"`
	Device      string          `json:"device"`
	FiredAt     time.Time       `json:"fired_at"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"last_status,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	NextAttempt *time.Time      `json:"next_attempt,omitempty"`
	DoneAt      *time.Time      `json:"done_at,omitempty"`
	Event       json.RawMessage `json:"event"` // the io.geotrack.alert.fired CloudEvent
	// Node is the edge node that fired and delivers the alert; absent for
	// alerts fired in the cloud (see EdgeReport).
	Node string `json:"node,omitempty"`
}

// Query selects alerts of a tenant.
type Query struct {
	Device, Rule string
	From, To     time.Time // zero: unbounded
	Dead         bool      // the dead letters, by when they died
	Cursor       string
	Limit        int
}

// Page is one page of alerts, oldest first.
type Page struct {
	Alerts []Record `json:"alerts"`
	Next   string   `json:"next"`
}

// ErrNotFound: no such alert or rule.
var ErrNotFound = errors.New("not found")

// ErrPending: an alert being delivered cannot be replayed.
var ErrPending = errors.New("still pending delivery")

// ErrOutboxFull: the tenant's event outbox is at capacity (the sink has
// been unreachable for long); nothing was fired, the event can come again.
var ErrOutboxFull = errors.New("event outbox full")

// ErrTooManyRules: the tenant is at its rule limit.
var ErrTooManyRules = errors.New("too many rules")

// ErrBadCursor is a cursor this store did not issue.
var ErrBadCursor = errors.New("bad cursor")

// RuleStore keeps a tenant's rules.
type RuleStore interface {
	PutRule(ctx context.Context, tenant string, r Rule) error
	Rule(ctx context.Context, tenant, id string) (Rule, error) // ErrNotFound
	ListRules(ctx context.Context, tenant string) ([]Rule, error)
	DeleteRule(ctx context.Context, tenant, id string) error // ErrNotFound
}

// Log is the fired alerts of a tenant.
type Log interface {
	ListAlerts(ctx context.Context, tenant string, q Query) (Page, error)
	Replay(ctx context.Context, tenant, id string) error // ErrNotFound, ErrPending, ErrFiredAtEdge
	// ImportEdge stores the records edge node reported (DecodeEdgeReport):
	// listed, never queued for delivery.
	ImportEdge(ctx context.Context, tenant, node string, recs []Record) (Imported, error)
}
