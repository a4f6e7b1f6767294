package trips

import (
	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is trips' environment (envconfig). The archive tier is read when
// S3_ENDPOINT is set.
type Config struct {
	config.Redis
	auth.Config
	archive.ColdConfig
}
