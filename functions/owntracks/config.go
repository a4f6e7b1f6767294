package owntracks

import "github.com/geotrack/geotrack/internal/edge"

// Config is owntracks's environment (envconfig): cloud mode by default, the edge
// pipeline with EDGE_MODE=true.
type Config = edge.ProtocolConfig
