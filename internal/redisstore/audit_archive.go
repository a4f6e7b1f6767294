package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// auditArchivedKey holds the id of the last audit entry of tenant copied
// to the WORM archive (audit.Archive).
func auditArchivedKey(prefix, tenant string) string {
	return prefix + ":{" + tenant + "}:audit:archived"
}

// ArchivedCursor implements audit.ArchiveSource ("" before the first run).
func (l *AuditLog) ArchivedCursor(ctx context.Context, tenant string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	id, err := l.client.Get(ctx, auditArchivedKey(l.prefix, tenant)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", markOutage(fmt.Errorf("audit archive cursor: %w", err))
	}
	return id, nil
}

// SetArchivedCursor implements audit.ArchiveSource.
func (l *AuditLog) SetArchivedCursor(ctx context.Context, tenant, id string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	if !validStreamID(id) {
		return fmt.Errorf("%w: audit cursor %q", ErrInvalidArgument, id)
	}
	if err := l.client.Set(ctx, auditArchivedKey(l.prefix, tenant), id, 0).Err(); err != nil {
		return markOutage(fmt.Errorf("audit archive cursor: %w", err))
	}
	return nil
}
