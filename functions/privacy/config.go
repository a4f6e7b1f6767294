package privacy

import (
	"github.com/geotrack/geotrack/functions/archiver"
)

// Config is privacy's environment (envconfig): the archiver's (Redis,
// auth and the archive tier: S3_ENDPOINT, S3_BUCKET, S3_PREFIX, ...), since
// export and erasure cover the archive the archiver writes.
type Config struct {
	archiver.Config
}
