package alerts

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is alerts' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	// SinkConfig: where the io.geotrack.alert.fired events of the alerts
	// edge nodes report go (through the event outbox, as notify's); no
	// sink, none is queued.
	events.SinkConfig
	AlertRetention time.Duration `envconfig:"ALERT_RETENTION" default:"168h"`
}
