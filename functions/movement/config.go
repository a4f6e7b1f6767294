package movement

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is movement's environment (envconfig).
type Config struct {
	Source            string        `envconfig:"EVENT_SOURCE" default:"urn:geotrack:movement"`
	StateTTL          time.Duration `envconfig:"MOVEMENT_STATE_TTL" default:"720h"`
	EventLogRetention time.Duration `envconfig:"EVENT_LOG_RETENTION" default:"168h"`
	config.Redis
	auth.Config
	events.SinkConfig
}
