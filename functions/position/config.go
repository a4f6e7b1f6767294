package position

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is position's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
