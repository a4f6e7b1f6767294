package preferences

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is preferences' environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
}
