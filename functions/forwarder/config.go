package forwarder

import (
	"time"

	"github.com/geotrack/geotrack/internal/config"
)

// Config is forwarder's environment (envconfig).
type Config struct {
	config.Redis
	CloudIngestURL string        `envconfig:"CLOUD_INGEST_URL"`
	NodeID         string        `envconfig:"EDGE_NODE_ID" default:"edge"`
	OutboxMaxLen   int64         `envconfig:"OUTBOX_MAX_LEN" default:"1000000"`
	BatchSize      int           `envconfig:"FORWARD_BATCH_SIZE" default:"500"`
	RatePerSecond  float64       `envconfig:"FORWARD_RATE"`
	MaxBackoff     time.Duration `envconfig:"FORWARD_MAX_BACKOFF" default:"60s"`
	Gzip           bool          `envconfig:"FORWARD_GZIP" default:"true"`
	// Interval > 0 runs a loop in the process (k3s Deployment), woken early
	// by io.geotrack.edge.stored; 0 leaves scheduling to the cron-connector.
	Interval time.Duration `envconfig:"FORWARD_INTERVAL"`
	// CloudAlertsURL is the cloud's alerts function: the records of the
	// alerts this node fired (RULES_URL at the edge) go up there, so the
	// cloud lists them; empty, they stay at the edge.
	CloudAlertsURL string `envconfig:"CLOUD_ALERTS_URL"`
}

// TokenSecret is the OpenFaaS secret with the cloud service-role token.
const (
	TokenSecret = "edge-service-token"
	TokenEnv    = "EDGE_SERVICE_TOKEN"
)
