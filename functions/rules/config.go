package rules

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is rules' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	// AllowPrivate lets webhooks use http and private addresses (dev, tests).
	AllowPrivate bool `envconfig:"WEBHOOK_ALLOW_PRIVATE"`
}
