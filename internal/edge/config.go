package edge

import (
	"time"

	"github.com/geotrack/geotrack/internal/config"
)

// Edge is the edge pipeline's settings.
type Edge struct {
	NodeID           string        `envconfig:"EDGE_NODE_ID" default:"edge"`
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"168h"`
	OutboxMaxLen     int64         `envconfig:"OUTBOX_MAX_LEN" default:"1000000"`
	RawRetention     time.Duration `envconfig:"RAW_RETENTION" default:"24h"`
	// FilterSettings is JSON over edgefilter.DefaultSettings() for every
	// device; DeviceSettings is a JSON object device id → settings JSON for
	// per-device overrides (applied over FilterSettings).
	FilterSettings string        `envconfig:"EDGE_FILTER_SETTINGS"`
	DeviceSettings string        `envconfig:"EDGE_DEVICE_SETTINGS"`
	FlushInterval  time.Duration `envconfig:"EDGE_FLUSH_INTERVAL" default:"5s"`
	// IdleAfter is how long a device must be quiet before its undecided
	// fixes are flushed; 0 means the filter window (window_s).
	IdleAfter time.Duration `envconfig:"EDGE_IDLE_AFTER"`
	// PreferencesURL is the cloud's preferences function; set, the node
	// pulls its tenant's preferences (with the edge-service-token) every
	// PreferencesInterval and applies them (paused, privacy zones, filter).
	PreferencesURL      string        `envconfig:"PREFERENCES_URL"`
	PreferencesInterval time.Duration `envconfig:"PREFERENCES_SYNC_INTERVAL" default:"30s"`
	// GeofencesURL and RulesURL are the cloud's geofences and rules
	// functions; set (RulesURL at least), the node pulls its tenant's fences
	// and alert rules every AlertsSyncInterval and evaluates them on the
	// fixes it keeps (Alerts): alerts fire at the edge, also during a cloud
	// outage, and the cloud fires none for the fixes it forwards.
	GeofencesURL       string        `envconfig:"GEOFENCES_URL"`
	RulesURL           string        `envconfig:"RULES_URL"`
	AlertsSyncInterval time.Duration `envconfig:"ALERTS_SYNC_INTERVAL" default:"30s"`
	// GeofenceMarginM and AlertRetention as geofence-detect's and notify's.
	GeofenceMarginM float64       `envconfig:"GEOFENCE_MARGIN_M" default:"10"`
	AlertRetention  time.Duration `envconfig:"ALERT_RETENTION" default:"168h"`
	// PrivacyURL is the cloud's privacy function (issue 12 §1); set, the
	// node pulls the tenant's erasure list every PrivacyInterval with its
	// service token, purges each erased device from its Redis (hot store,
	// filter state, raw log, outbox) and confirms to the cloud.
	PrivacyURL      string        `envconfig:"PRIVACY_URL"`
	PrivacyInterval time.Duration `envconfig:"PRIVACY_SYNC_INTERVAL" default:"30s"`
	// TokensURL is the cloud's tokens function (issue 12 §3); set, the node
	// pulls the tenant's revoked token ids and "not before" instant every
	// TokensInterval with its service token into its own Redis, where its
	// functions' token checks see them (guard.RevocationSync). The default
	// 2s keeps a cloud revocation's delay at the edge within the issue's
	// 5 s: the interval, plus the edge guard's poll and reload (≤ 2 s).
	TokensURL      string        `envconfig:"TOKENS_URL"`
	TokensInterval time.Duration `envconfig:"TOKENS_SYNC_INTERVAL" default:"2s"`
}

// AlertsAtEdge reports whether the node evaluates alerts itself.
func (e Edge) AlertsAtEdge() bool { return e.RulesURL != "" }

// Acceptance is the settings of a device-protocol function, which feeds the
// cloud pipeline or, with EDGE_MODE=true, this edge pipeline.
type Acceptance struct {
	EdgeMode bool          `envconfig:"EDGE_MODE"`
	DedupTTL time.Duration `envconfig:"DEDUP_TTL" default:"24h"`
	// DeviceQuota (cloud mode): devices per tenant, 0 = no cap; a tenant's
	// override (geotrack limits --devices) wins. An edge node does not
	// enforce it: the cloud's ingest does when the node forwards.
	DeviceQuota int `envconfig:"DEVICE_QUOTA" default:"0"`
	Edge
	// ArchiveTier (S3_ENDPOINT set, cloud mode): old fixes are kept for the
	// archiver.
	config.ArchiveTier
}
