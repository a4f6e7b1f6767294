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
	// DataRetention (issue 12 §1) is how long a device's data is kept in
	// every tier when neither the device nor its tenant has a retention
	// preference; 0 keeps it for ever. A sweep after each pass enforces it.
	DataRetention time.Duration `envconfig:"DATA_RETENTION" default:"0s"`
	// S3AuditBucket (issue 12 §2) receives each tenant's audit trail after
	// every pass, as objects under object lock (COMPLIANCE mode) retained
	// AuditLockDays: nobody can delete or rewrite them before. Created with
	// object lock if missing; an existing bucket without lock is refused.
	// "" turns the audit archive off.
	S3AuditBucket string `envconfig:"S3_AUDIT_BUCKET" default:"geotrack-audit"`
	AuditLockDays int    `envconfig:"AUDIT_LOCK_DAYS" default:"365"`
	// Workers is how many devices are archived at once.
	Workers int `envconfig:"ARCHIVE_WORKERS" default:"4"`
	// Interval > 0 also runs a pass every Interval in the process (`geotrack
	// dev`, a Deployment without a scheduler); 0 leaves passes to POSTs.
	Interval time.Duration `envconfig:"ARCHIVE_INTERVAL"`
}
