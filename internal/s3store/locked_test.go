package s3store_test

import (
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/geotrack/geotrack/internal/s3store"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestLockedBucketRefusesDeletes: an object written to the locked bucket
// cannot be deleted (its version) or overwritten in place, not even with
// the root credentials, until its retention ends.
func TestLockedBucketRefusesDeletes(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	cfg := s3store.Config{Endpoint: m.Endpoint, Bucket: "audit", AccessKey: m.AccessKey, SecretKey: m.SecretKey}
	b, err := s3store.NewLocked(cfg, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutLocked(ctx, "tenant=acme/audit/1-2.jsonl", []byte(`{"action":"privacy.erase"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	c := b.Client()
	info, err := c.StatObject(ctx, "audit", "tenant=acme/audit/1-2.jsonl", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.VersionID == "" {
		t.Fatal("no version id: the bucket is not versioned (object lock implies versioning)")
	}
	mode, until, err := c.GetObjectRetention(ctx, "audit", "tenant=acme/audit/1-2.jsonl", info.VersionID)
	if err != nil || mode == nil || *mode != minio.Compliance || until == nil || until.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("retention %v until %v (%v), want COMPLIANCE for a day", mode, until, err)
	}
	err = c.RemoveObject(ctx, "audit", "tenant=acme/audit/1-2.jsonl", minio.RemoveObjectOptions{VersionID: info.VersionID})
	if err == nil {
		t.Fatal("deleting a locked version succeeded")
	}
	err = c.RemoveObject(ctx, "audit", "tenant=acme/audit/1-2.jsonl", minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
	if err == nil {
		t.Fatal("deleting a COMPLIANCE-locked version with governance bypass succeeded")
	}
	// Shortening the retention is refused too.
	shorter := time.Now().Add(time.Hour)
	comp := minio.Compliance
	if err := c.PutObjectRetention(ctx, "audit", "tenant=acme/audit/1-2.jsonl", minio.PutObjectRetentionOptions{Mode: &comp, RetainUntilDate: &shorter, VersionID: info.VersionID}); err == nil {
		t.Fatal("shortening a COMPLIANCE retention succeeded")
	}
	if _, err := c.StatObject(ctx, "audit", "tenant=acme/audit/1-2.jsonl", minio.StatObjectOptions{VersionID: info.VersionID}); err != nil {
		t.Fatalf("the locked version is gone: %v", err)
	}

	// A bucket made without lock is refused as the audit archive.
	if err := c.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg.Bucket = "plain"
	plain, err := s3store.NewLocked(cfg, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.PutLocked(ctx, "x", []byte("y")); err == nil {
		t.Fatal("wrote the audit archive to a bucket without object lock")
	}
}
