package s3store

import (
	"context"
	"fmt"
	"sort"

	"github.com/minio/minio-go/v7"
)

// List returns the keys of the objects under prefix, sorted (privacy
// export and erasure walk a device's folder with it).
func (b *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	var keys []string
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, Outage(fmt.Errorf("list s3://%s/%s: %w", b.bucket, prefix, obj.Err))
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes an object (absent: no error). In a versioned bucket it
// leaves a delete marker; the archive bucket is not versioned.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.client.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return Outage(fmt.Errorf("delete s3://%s/%s: %w", b.bucket, key, err))
	}
	return nil
}
