package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// LockedBucket is a bucket with S3 object lock (WORM): every object it
// writes is retained in COMPLIANCE mode for Retention, so no credential,
// the root user's included, can delete or overwrite a version of it before
// then. The audit trail's archive (issue 12 §2) is written here.
type LockedBucket struct {
	*Bucket
	Retention time.Duration
}

// ErrNotLocked is returned when the bucket exists without object lock:
// lock can only be enabled when a bucket is created.
var ErrNotLocked = errors.New("bucket exists without object lock")

// NewLocked is New for a bucket with object lock, created with lock
// enabled if missing (on the first Put).
func NewLocked(cfg Config, retention time.Duration) (*LockedBucket, error) {
	if retention < 24*time.Hour {
		return nil, fmt.Errorf("AUDIT_LOCK_DAYS: the retention must be at least a day, got %s", retention)
	}
	b, err := New(cfg, nil)
	if err != nil {
		return nil, err
	}
	return &LockedBucket{Bucket: b, Retention: retention}, nil
}

// ensureLocked creates the bucket with object lock, or checks that the
// existing one has it; before the Bucket's own preparation (which would
// create it without).
func (l *LockedBucket) ensureLocked(ctx context.Context) error {
	exists, err := l.client.BucketExists(ctx, l.bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", l.bucket, err)
	}
	if !exists {
		err := l.client.MakeBucket(ctx, l.bucket, minio.MakeBucketOptions{Region: l.region, ObjectLocking: true})
		if err != nil {
			code := minio.ToErrorResponse(err).Code
			if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
				return fmt.Errorf("create locked bucket %s: %w", l.bucket, err)
			}
		}
	}
	enabled, _, _, _, err := l.client.GetObjectLockConfig(ctx, l.bucket)
	if err != nil || enabled != "Enabled" {
		return fmt.Errorf("%w: %s (create it with object lock, or name another with S3_AUDIT_BUCKET): %v", ErrNotLocked, l.bucket, err)
	}
	return nil
}

// PutLocked writes an object retained in COMPLIANCE mode until
// now+Retention. An existing key is not overwritten: a new version is
// added, and the old one stays until its own retention ends.
func (l *LockedBucket) PutLocked(ctx context.Context, key string, data []byte) error {
	l.mu.Lock()
	ready := l.ready
	l.mu.Unlock()
	if !ready {
		if err := l.ensureLocked(ctx); err != nil {
			return err
		}
	}
	if err := l.prepare(ctx); err != nil {
		return err
	}
	until := time.Now().Add(l.Retention).UTC()
	opts := minio.PutObjectOptions{
		ContentType: "application/x-ndjson", Mode: minio.Compliance, RetainUntilDate: until,
		SendContentMd5: true, // S3 requires a checksum with object lock
	}
	switch l.Mode() {
	case SSES3:
		opts.ServerSideEncryption = encrypt.NewSSE()
	case SSEC:
		opts.ServerSideEncryption = l.sseC
	}
	if _, err := l.client.PutObject(ctx, l.bucket, key, bytes.NewReader(data), int64(len(data)), opts); err != nil {
		return fmt.Errorf("put locked s3://%s/%s: %w", l.bucket, key, err)
	}
	return nil
}
