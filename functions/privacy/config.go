package privacy

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/s3store"
)

// Config is privacy's environment (envconfig). The archive variables are
// the archiver's: export and erasure cover the archive it writes.
type Config struct {
	config.Redis
	auth.Config
	// S3_ENDPOINT unset: no archive tier, export and erasure cover the
	// hot store only.
	s3store.Env
}
