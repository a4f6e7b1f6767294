package alerts

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is alerts' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	AlertRetention time.Duration `envconfig:"ALERT_RETENTION" default:"168h"`
}
