package trips

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is trips' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
