package owntracks

import (
	edgeingest "github.com/geotrack/geotrack/functions/edge-ingest"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is owntracks's environment (envconfig): cloud mode by default, the edge
// pipeline with EDGE_MODE=true.
type Config struct {
	config.Redis
	auth.Config
	events.SinkConfig
	edgeingest.Acceptance
}
