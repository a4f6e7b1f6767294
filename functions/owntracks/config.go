package owntracks

import edgeingest "github.com/geotrack/geotrack/functions/edge-ingest"

// Config is owntracks's environment (envconfig): cloud mode by default, the edge
// pipeline with EDGE_MODE=true.
type Config = edgeingest.ProtocolConfig
