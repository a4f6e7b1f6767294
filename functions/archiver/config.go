package archiver

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/s3store"
)

// Config is archiver's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	// The bucket (S3_ENDPOINT unset: no archive tier, a pass does nothing).
	s3store.Env
	// HotRetention is how old history must be to move (whole UTC days).
	HotRetention time.Duration `envconfig:"HOT_RETENTION" default:"48h"`
	// Workers is how many devices are archived at once.
	Workers int `envconfig:"ARCHIVE_WORKERS" default:"4"`
	// Interval > 0 also runs a pass every Interval in the process (`geotrack
	// dev`, a Deployment without a scheduler); 0 leaves passes to POSTs.
	Interval time.Duration `envconfig:"ARCHIVE_INTERVAL"`
}
