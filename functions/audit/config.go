package audit

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is audit's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
