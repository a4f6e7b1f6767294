package events

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is events' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
