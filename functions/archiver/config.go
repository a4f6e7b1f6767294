package archiver

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is archiver's environment (envconfig).
type Config struct {
	config.Redis
	auth.Config
	// S3_ENDPOINT (http(s)://host:port) turns the archive tier on; unset,
	// history ends at the hot retention and a pass does nothing.
	config.ArchiveTier
	S3Bucket string `envconfig:"S3_BUCKET" default:"geotrack-archive"`
	S3Region string `envconfig:"S3_REGION" default:"us-east-1"`
	S3CAFile string `envconfig:"S3_CA_FILE"`
	// S3Prefix goes before every object key (end it with "/").
	S3Prefix string `envconfig:"S3_PREFIX"`
	// SSE: auto (SSE-S3 when the store has a KMS), s3, c (key from the
	// secret archive-key) or none.
	SSE string `envconfig:"ARCHIVE_SSE" default:"auto"`
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

// Secrets of the archive tier (OpenFaaS secrets, with env fallbacks).
const (
	AccessKeySecret = "s3-access-key"
	AccessKeyEnv    = "S3_ACCESS_KEY"
	SecretKeySecret = "s3-secret-key"
	SecretKeyEnv    = "S3_SECRET_KEY"
	// SSECKeySecret holds the SSE-C key: 32 bytes, raw or base64.
	SSECKeySecret = "archive-key"
	SSECKeyEnv    = "ARCHIVE_KEY"
)
