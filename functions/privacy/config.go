package privacy

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is privacy's environment (envconfig). The archive variables are
// the archiver's: export and erasure cover the archive it writes.
type Config struct {
	config.Redis
	auth.Config
	// S3_ENDPOINT unset: no archive tier, export and erasure cover the
	// hot store only.
	config.ArchiveTier
	S3Bucket string `envconfig:"S3_BUCKET" default:"geotrack-archive"`
	S3Region string `envconfig:"S3_REGION" default:"us-east-1"`
	S3CAFile string `envconfig:"S3_CA_FILE"`
	S3Prefix string `envconfig:"S3_PREFIX"`
	SSE      string `envconfig:"ARCHIVE_SSE" default:"auto"`
}
