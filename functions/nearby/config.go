package nearby

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is nearby's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
