// Package privacy hands a device's data to its owner (GDPR Art. 15/20:
// Export, a ZIP streamed with bounded memory) and erases it from every
// tier (Art. 17: Erase, with a receipt and an ingest tombstone so fixes
// older than the erasure arriving later, from an edge outbox, are dropped).
package privacy

import (
	"context"
	"encoding/json"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/preferences"
)

// History is the hot history (redisstore.Store).
type History interface {
	History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error)
}

// Archive is the cold tier as privacy needs it: a device's archived days
// and their removal. ObjectArchive implements it over the archive's
// object layout; the history tier's cold reader can take its place.
type Archive interface {
	// EachDay calls fn with each archived UTC day of device, oldest first,
	// one day's fixes at a time (bounded memory: one day).
	EachDay(ctx context.Context, tenant, device string, fn func(day time.Time, fixes []fix.Fix) error) error
	// EraseDevice deletes everything archived of device and returns how
	// many objects went.
	EraseDevice(ctx context.Context, tenant, device string) (int, error)
}

// Events reads the tenant's event log (redisstore.Store).
type Events interface {
	ReadEvents(ctx context.Context, tenant string, q eventlog.Query) (eventlog.Page, error)
}

// Alerts lists fired alerts (redisstore.Alerts).
type Alerts interface {
	ListAlerts(ctx context.Context, tenant string, q alert.Query) (alert.Page, error)
}

// Preferences reads the tenant's preferences (redisstore.PreferencesStore).
type Preferences interface {
	LoadPreferences(ctx context.Context, tenant string) (preferences.Set, error)
}

// Fences reads and rewrites fences (redisstore.Store).
type Fences interface {
	ListFences(ctx context.Context, tenant, cursor string, limit int) ([][]byte, string, error)
	PutFences(ctx context.Context, tenant string, fences []geofence.Stored, quota int) error
	DeleteFence(ctx context.Context, tenant, id string) (bool, error)
}

// Rules reads and rewrites alert rules (redisstore.Alerts).
type Rules interface {
	Rules(ctx context.Context, tenant string) ([]alert.Rule, error)
	PutRule(ctx context.Context, tenant string, r alert.Rule) error
	DeleteRule(ctx context.Context, tenant, id string) error
}

// AuditLog reads the audit trail (redisstore.AuditLog).
type AuditLog interface {
	ReadAudit(ctx context.Context, tenant string, from, to time.Time, cursor string, limit int) ([]audit.Entry, string, error)
}

// Cloud is the hot store's erasure side (redisstore.Privacy).
type Cloud interface {
	EraseDevice(ctx context.Context, tenant, device string) (map[string]int, error)
	PutTombstone(ctx context.Context, tenant, device string, at time.Time, receipt string) error
	Erasures(ctx context.Context, tenant string) ([]Erasure, error)
	SaveReceipt(ctx context.Context, tenant, id string, receipt []byte) error
	LoadReceipt(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ConfirmEdge(ctx context.Context, tenant, receipt, node string, confirmation []byte) error
	EdgeConfirmations(ctx context.Context, tenant, receipt string) (map[string][]byte, error)
}

// Erasure is one tombstone as edge nodes pull it: the device by digest,
// the instant before which its fixes are erased, the receipt to confirm.
type Erasure struct {
	DeviceSHA256 string    `json:"device_sha256"`
	ErasedBefore time.Time `json:"erased_before"`
	Receipt      string    `json:"receipt"`
}

// Service exports and erases devices. Archive may be nil (no archive tier).
type Service struct {
	History     History
	Archive     Archive
	Events      Events
	Alerts      Alerts
	Preferences Preferences
	Fences      Fences
	Rules       Rules // may be nil: rules are not rewritten
	Audit       AuditLog
	Cloud       Cloud
	// Settle is how long Erase waits between its two passes, longer than
	// the ingest gates take to see a new tombstone (ErasureGate's TTL), so
	// a fix that passed a gate before the tombstone and was stored during
	// the first pass is removed by the second. Default DefaultSettle.
	Settle time.Duration
	Now    func() time.Time
}

// DefaultSettle is Service.Settle's default: twice DefaultGateTTL.
const DefaultSettle = 2 * DefaultGateTTL

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// pageSize is how many records one read of a store asks for.
const pageSize = 1000

// rawJSON marshals v, for stores that hand back typed records.
func rawJSON(v any) (json.RawMessage, error) { return json.Marshal(v) }
