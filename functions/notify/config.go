package notify

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is notify's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	events.SinkConfig
	Source         string        `envconfig:"EVENT_SOURCE" default:"urn:geotrack:notify"`
	AlertRetention time.Duration `envconfig:"ALERT_RETENTION" default:"168h"`
	// AllowPrivate lets deliveries reach http and private addresses (dev, tests).
	AllowPrivate bool          `envconfig:"WEBHOOK_ALLOW_PRIVATE"`
	Timeout      time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s"`
	RetryMin     time.Duration `envconfig:"WEBHOOK_RETRY_MIN" default:"1s"`
	RetryMax     time.Duration `envconfig:"WEBHOOK_RETRY_MAX" default:"10m"`
	Horizon      time.Duration `envconfig:"WEBHOOK_RETRY_HORIZON" default:"24h"`
	// DeliveryInterval > 0 runs the delivery loop in the process, woken
	// early by fired alerts; 0 delivers only when invoked (cron tick).
	DeliveryInterval time.Duration `envconfig:"DELIVERY_INTERVAL" default:"1s"`
	// SilenceInterval > 0 runs the silence sweep in the process (edge, dev);
	// 0 leaves it to the cron tick.
	SilenceInterval time.Duration `envconfig:"SILENCE_SWEEP_INTERVAL"`
	// EdgeNodeID is set on an edge node (edge-k3s): notify there fires for
	// the fixes that node's intake marked (fix.AttrEdgeAlerts), its silence
	// sweep included; empty (the cloud) it leaves marked fixes to their node.
	EdgeNodeID string `envconfig:"EDGE_NODE_ID"`
}
