package tokens

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is tokens' environment (envconfig). AUTH_MAX_TOKEN_LIFETIME (of
// auth.Config) is how long a revocation is kept.
type Config struct {
	config.Redis
	auth.Config
}
