// Package s3store is the archive's object store adapter: an S3 bucket
// (MinIO single node or distributed, AWS S3, Ceph RGW) through minio-go,
// with server-side encryption on every object it writes.
package s3store

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// SSE modes (ARCHIVE_SSE).
const (
	// SSEAuto is SSE-S3 when the store has a KMS, else none (logged).
	SSEAuto = "auto"
	// SSES3 encrypts with the store's KMS key: readers need only ordinary
	// credentials.
	SSES3 = "s3"
	// SSEC encrypts with a key the client sends (the secret archive-key):
	// every reader needs that key.
	SSEC = "c"
	// SSENone writes plain objects (the bucket's default encryption, if
	// any, still applies).
	SSENone = "none"
)

// Config says how to reach the bucket.
type Config struct {
	Endpoint  string // http(s)://host:port
	Bucket    string
	Region    string
	CAFile    string // PEM roots for an https endpoint with a private CA
	AccessKey string
	SecretKey string
	SSE       string // SSEAuto (default), SSES3, SSEC, SSENone
	SSECKey   []byte // 32 bytes, for SSEC
	// MaxRetries bounds the client's retries of one request (0: the S3
	// client's default, 10).
	MaxRetries int
}

// Bucket is one bucket; safe for concurrent use.
type Bucket struct {
	client *minio.Client
	bucket string
	region string
	log    *slog.Logger

	mu      sync.Mutex
	ready   bool // bucket exists and the SSE mode is decided
	mode    string
	sseC    encrypt.ServerSide
	sseMode string // what was asked
}

// New checks cfg and builds the client; it does not contact the store
// (the first Get or Put does, creating the bucket if missing), so a
// function starts while the store is down.
func New(cfg Config, log *slog.Logger) (*Bucket, error) {
	if log == nil {
		log = slog.Default()
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("S3_ENDPOINT %q: want http(s)://host:port", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3_BUCKET: required with S3_ENDPOINT")
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
		// minio-go takes MaxRetries ≤ 0 as its default.
		MaxRetries: cfg.MaxRetries,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("S3_CA_FILE: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("S3_CA_FILE %s: no PEM certificates", cfg.CAFile)
		}
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	client, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	b := &Bucket{client: client, bucket: cfg.Bucket, region: cfg.Region, log: log, sseMode: cfg.SSE}
	switch cfg.SSE {
	case "", SSEAuto:
		b.sseMode = SSEAuto
	case SSES3, SSENone:
	case SSEC:
		if len(cfg.SSECKey) != 32 {
			return nil, fmt.Errorf("ARCHIVE_SSE=c: the secret archive-key must hold 32 bytes (raw or base64), got %d", len(cfg.SSECKey))
		}
		if u.Scheme != "https" {
			log.Warn("archive: SSE-C sends its key with every request; S3_ENDPOINT is http", "endpoint", cfg.Endpoint)
		}
		if b.sseC, err = encrypt.NewSSEC(cfg.SSECKey); err != nil {
			return nil, fmt.Errorf("ARCHIVE_SSE=c: %w", err)
		}
	default:
		return nil, fmt.Errorf("ARCHIVE_SSE %q: want auto, s3, c or none", cfg.SSE)
	}
	return b, nil
}

// Client is the underlying client (tests stat objects with it).
func (b *Bucket) Client() *minio.Client { return b.client }

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.bucket }

// probeKey is the object SSEAuto writes once to learn whether the store
// encrypts with SSE-S3.
const probeKey = ".geotrack-sse-probe"

// prepare creates the bucket if missing and settles the SSE mode, once.
func (b *Bucket) prepare(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready {
		return nil
	}
	exists, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return Outage(fmt.Errorf("bucket %s: %w", b.bucket, err))
	}
	if !exists {
		err := b.client.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{Region: b.region})
		if err != nil {
			code := minio.ToErrorResponse(err).Code
			if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
				return Outage(fmt.Errorf("create bucket %s: %w", b.bucket, err))
			}
		}
		b.log.Info("archive: bucket created", "bucket", b.bucket)
	}
	b.mode = b.sseMode
	if b.mode == SSEAuto {
		_, err := b.client.PutObject(ctx, b.bucket, probeKey, bytes.NewReader(nil), 0,
			minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE()})
		if err != nil {
			resp := minio.ToErrorResponse(err)
			if resp.StatusCode == 0 || resp.StatusCode >= 500 && resp.Code != "NotImplemented" && resp.Code != "KMSNotConfigured" {
				return Outage(fmt.Errorf("probe SSE-S3 on bucket %s: %w", b.bucket, err))
			}
			b.log.Warn("archive: the store refused SSE-S3 (no KMS?); objects are written without server-side encryption; set ARCHIVE_SSE=c for SSE-C", "bucket", b.bucket, "code", resp.Code)
			b.mode = SSENone
		} else {
			b.mode = SSES3
		}
	}
	b.log.Info("archive: server-side encryption", "bucket", b.bucket, "mode", b.mode)
	b.ready = true
	return nil
}

// Mode is the SSE mode in use ("" before the first Get or Put).
func (b *Bucket) Mode() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mode
}

// Put writes an object, encrypted as the mode says.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := b.prepare(ctx); err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: "application/vnd.apache.parquet"}
	switch b.Mode() {
	case SSES3:
		opts.ServerSideEncryption = encrypt.NewSSE()
	case SSEC:
		opts.ServerSideEncryption = b.sseC
	}
	if _, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), opts); err != nil {
		return Outage(fmt.Errorf("put s3://%s/%s: %w", b.bucket, key, err))
	}
	return nil
}

// Get reads an object; found is false when it does not exist.
func (b *Bucket) Get(ctx context.Context, key string) (data []byte, found bool, err error) {
	if err := b.prepare(ctx); err != nil {
		return nil, false, err
	}
	var opts minio.GetObjectOptions
	if b.Mode() == SSEC {
		opts.ServerSideEncryption = b.sseC
	}
	obj, err := b.client.GetObject(ctx, b.bucket, key, opts)
	if err == nil {
		data, err = io.ReadAll(obj)
		obj.Close()
	}
	if err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket" {
			return nil, false, nil
		}
		return nil, false, Outage(fmt.Errorf("get s3://%s/%s: %w", b.bucket, key, err))
	}
	return data, true, nil
}

// Ping checks that the bucket answers, for readiness.
func (b *Bucket) Ping(ctx context.Context) error {
	if _, err := b.client.BucketExists(ctx, b.bucket); err != nil {
		return Outage(fmt.Errorf("s3 %s: %w", b.bucket, err))
	}
	return nil
}
