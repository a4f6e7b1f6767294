package s3store

import (
	"encoding/base64"
	"log/slog"

	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/geotrack/geotrack/internal/config"
)

// Env is the archive tier's configuration (envconfig), the same for the
// archiver that writes the bucket and for track and trips that read it:
// S3_ENDPOINT unset means no archive tier.
type Env struct {
	// S3_ENDPOINT (http(s)://host:port) turns the archive tier on.
	config.ArchiveTier
	S3Bucket string `envconfig:"S3_BUCKET" default:"geotrack-archive"`
	S3Region string `envconfig:"S3_REGION" default:"us-east-1"`
	S3CAFile string `envconfig:"S3_CA_FILE"`
	// S3Prefix goes before every object key (end it with "/").
	S3Prefix string `envconfig:"S3_PREFIX"`
	// SSE: auto (SSE-S3 when the store has a KMS), s3, c (key from the
	// secret archive-key) or none.
	SSE string `envconfig:"ARCHIVE_SSE" default:"auto"`
	// S3MaxRetries bounds the client's retries of one request; the S3
	// client's own default (10) keeps a reader waiting ~4 s for its 503 when
	// the store is down, and the archiver retries whole passes anyway.
	S3MaxRetries int `envconfig:"S3_MAX_RETRIES" default:"3"`
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

// Open builds the bucket of env and the secrets; nil when S3_ENDPOINT is
// unset. Like New, it does not contact the store.
func Open(env Env, log *slog.Logger) (*Bucket, error) {
	if !env.Enabled() {
		return nil, nil
	}
	accessKey, err := config.Secret(AccessKeySecret, AccessKeyEnv)
	if err != nil {
		return nil, err
	}
	secretKey, err := config.Secret(SecretKeySecret, SecretKeyEnv)
	if err != nil {
		return nil, err
	}
	cfg := Config{
		Endpoint: env.S3Endpoint, Bucket: env.S3Bucket, Region: env.S3Region, CAFile: env.S3CAFile,
		AccessKey: accessKey, SecretKey: secretKey, SSE: env.SSE, MaxRetries: env.S3MaxRetries,
	}
	if env.SSE == SSEC {
		raw, err := config.Secret(SSECKeySecret, SSECKeyEnv)
		if err != nil {
			return nil, err
		}
		cfg.SSECKey = sseCKey(raw)
	}
	return New(cfg, log)
}

// sseCKey takes the archive-key secret as 32 raw bytes or their base64.
func sseCKey(raw string) []byte {
	if len(raw) != 32 {
		if b, err := base64.StdEncoding.DecodeString(raw); err == nil {
			return b
		}
	}
	return []byte(raw)
}

// CustomerKey is the SSE-C key a reader of the bucket's objects must send,
// nil unless ARCHIVE_SSE=c (with SSE-S3 the store decrypts).
func (b *Bucket) CustomerKey() encrypt.ServerSide { return b.sseC }
