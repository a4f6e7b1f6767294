package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/audit"
)

// AuditKey is tenant's audit log: a STREAM of entries (field "e", the JSON
// of audit.Entry), trimmed by age on every append.
func AuditKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:audit" }

// AuditLog stores the tenants' audit logs.
type AuditLog struct {
	client    redis.UniversalClient
	prefix    string
	retention time.Duration
}

// NewAuditLog wraps client; entries older than retention are trimmed.
func NewAuditLog(client redis.UniversalClient, prefix string, retention time.Duration) *AuditLog {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &AuditLog{client: client, prefix: prefix, retention: retention}
}

// AppendAudit implements audit.Appender: one pipeline of XADDs, each
// trimming (approximately, cheaply) what fell out of the retention.
func (l *AuditLog) AppendAudit(ctx context.Context, entries []audit.Entry) error {
	minID := strconv.FormatInt(time.Now().Add(-l.retention).UnixMilli(), 10)
	_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			if !ValidTenant(e.Tenant) {
				continue // never happens: the tenant comes from a verified token
			}
			e.ID = ""
			raw, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode audit entry: %w", err)
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: AuditKey(l.prefix, e.Tenant), MinID: minID, Approx: true, Values: []any{"e", raw}})
		}
		return nil
	})
	if err != nil {
		return markOutage(fmt.Errorf("append audit entries: %w", err))
	}
	return nil
}

// ReadAudit returns up to limit entries of tenant appended in [from, to]
// (zero: open), oldest first, after cursor (an entry id) when set, and the
// cursor of the next page ("" at the end).
func (l *AuditLog) ReadAudit(ctx context.Context, tenant string, from, to time.Time, cursor string, limit int) ([]audit.Entry, string, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, "", err
	}
	start, end := "-", "+"
	if !from.IsZero() {
		start = strconv.FormatInt(from.UnixMilli(), 10)
	}
	if !to.IsZero() {
		end = strconv.FormatInt(to.UnixMilli(), 10)
	}
	if cursor != "" {
		if !validStreamID(cursor) {
			return nil, "", fmt.Errorf("%w: cursor %q is not an audit entry id", ErrInvalidArgument, cursor)
		}
		start = "(" + cursor
	}
	msgs, err := l.client.XRangeN(ctx, AuditKey(l.prefix, tenant), start, end, int64(limit)+1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", markOutage(fmt.Errorf("read audit log: %w", err))
	}
	next := ""
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	out := make([]audit.Entry, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var e audit.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, "", fmt.Errorf("stored audit entry %s of tenant %q: %w", m.ID, tenant, err)
		}
		e.ID = m.ID
		out = append(out, e)
	}
	return out, next, nil
}
