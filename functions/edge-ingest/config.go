// Package edgeingest is the edge tier's ingest function: ingest's request
// handling (functions/ingest) over the edge pipeline (internal/edge).
package edgeingest

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is edge-ingest's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	events.SinkConfig // where io.geotrack.edge.stored goes: the forwarder's URL wakes it
	edge.Edge
}
