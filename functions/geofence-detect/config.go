package geofencedetect

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is geofence-detect's environment (envconfig).
type Config struct {
	// MarginM is the hysteresis margin in metres: a device inside leaves only
	// when its fix is outside by more than max(accuracy, margin).
	MarginM float64 `envconfig:"GEOFENCE_MARGIN_M" default:"10"`
	// ReloadEvery is how often a replica checks the fence version.
	ReloadEvery time.Duration `envconfig:"GEOFENCE_RELOAD_INTERVAL" default:"1s"`
	// HistoryRetention is how long detection state and the event log are kept.
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"168h"`
	Source           string        `envconfig:"EVENT_SOURCE" default:"urn:geotrack:geofence-detect"`
	config.Redis
	auth.Config
	events.SinkConfig
}
