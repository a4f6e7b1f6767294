package archive

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/geotrack/geotrack/internal/config"
)

// ColdConfig is what a reader of the archive (track, trips) needs, from the
// archiver's variables (envconfig): S3_ENDPOINT unset means no archive
// tier, and history ends at the hot retention.
type ColdConfig struct {
	S3Endpoint string `envconfig:"S3_ENDPOINT"`
	S3Bucket   string `envconfig:"S3_BUCKET" default:"geotrack-archive"`
	S3Region   string `envconfig:"S3_REGION" default:"us-east-1"`
	S3CAFile   string `envconfig:"S3_CA_FILE"`
	// S3Prefix goes before every object key (end it with "/").
	S3Prefix string `envconfig:"S3_PREFIX"`
	// SSE is how objects were encrypted: with "c" every read sends the key
	// of the secret archive-key (SSE-C); otherwise the store decrypts.
	SSE string `envconfig:"ARCHIVE_SSE" default:"auto"`
}

// Secrets of the archive tier (OpenFaaS secrets, with env fallbacks).
const (
	coldAccessKeySecret = "s3-access-key"
	coldAccessKeyEnv    = "S3_ACCESS_KEY"
	coldSecretKeySecret = "s3-secret-key"
	coldSecretKeyEnv    = "S3_SECRET_KEY"
	coldSSECKeySecret   = "archive-key"
	coldSSECKeyEnv      = "ARCHIVE_KEY"
)

// OpenColdStore builds the archive reader of cfg and the secrets; nil when
// S3_ENDPOINT is unset. It does not contact the store: a function starts
// while the store is down, and reads fail until it is back.
func OpenColdStore(cfg ColdConfig) (*ColdStore, error) {
	if cfg.S3Endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(cfg.S3Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("S3_ENDPOINT %q: want http(s)://host:port", cfg.S3Endpoint)
	}
	accessKey, err := config.Secret(coldAccessKeySecret, coldAccessKeyEnv)
	if err != nil {
		return nil, err
	}
	secretKey, err := config.Secret(coldSecretKeySecret, coldSecretKeyEnv)
	if err != nil {
		return nil, err
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure: u.Scheme == "https",
		Region: cfg.S3Region,
	}
	if cfg.S3CAFile != "" {
		pem, err := os.ReadFile(cfg.S3CAFile)
		if err != nil {
			return nil, fmt.Errorf("S3_CA_FILE: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("S3_CA_FILE %s: no PEM certificates", cfg.S3CAFile)
		}
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, fmt.Errorf("s3 transport: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	client, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	var sse encrypt.ServerSide
	switch cfg.SSE {
	case "", "auto", "s3", "none":
	case "c":
		raw, err := config.Secret(coldSSECKeySecret, coldSSECKeyEnv)
		if err != nil {
			return nil, err
		}
		key := []byte(raw)
		if len(raw) != 32 {
			if b, err := base64.StdEncoding.DecodeString(raw); err == nil {
				key = b
			}
		}
		if sse, err = encrypt.NewSSEC(key); err != nil {
			return nil, fmt.Errorf("ARCHIVE_SSE=c: the secret %s: %w", coldSSECKeySecret, err)
		}
	default:
		return nil, fmt.Errorf("ARCHIVE_SSE %q: want auto, s3, c or none", cfg.SSE)
	}
	return NewColdStore(client, cfg.S3Bucket, cfg.S3Prefix, sse), nil
}
