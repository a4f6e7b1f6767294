package owntracks

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is owntracks's environment (envconfig): the cloud pipeline's settings
// plus the edge pipeline's, which EDGE_MODE=true selects.
type Config struct {
	config.Redis
	auth.Config
	events.SinkConfig
	edge.Acceptance
}
