package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/edge"
)

// SyncedAlertsKey is where an edge node remembers how far its copy of the
// cloud's fences and rules is (edge Redis, {edge} slot). The copies
// themselves live in the ordinary fence and rule keys of the tenant, so the
// edge's detection and rules read them as the cloud's read its own.
const SyncedAlertsKey = "gt:{edge}:alertsync"

// SyncedAlerts implements edge.SyncMark on the edge Redis.
type SyncedAlerts struct{ Client redis.UniversalClient }

// LoadMark reads the mark; ok false when there is none.
func (s SyncedAlerts) LoadMark(ctx context.Context) (edge.SyncMark, bool, error) {
	raw, err := s.Client.Get(ctx, SyncedAlertsKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return edge.SyncMark{}, false, nil
	}
	if err != nil {
		return edge.SyncMark{}, false, markOutage(fmt.Errorf("read alert sync mark: %w", err))
	}
	var m edge.SyncMark
	if err := json.Unmarshal(raw, &m); err != nil {
		return edge.SyncMark{}, false, fmt.Errorf("decode alert sync mark: %w", err)
	}
	return m, true, nil
}

// SaveMark replaces the mark; written after the changes it records, so a
// crash in between applies them again (which is idempotent).
func (s SyncedAlerts) SaveMark(ctx context.Context, m edge.SyncMark) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode alert sync mark: %w", err)
	}
	if err := s.Client.Set(ctx, SyncedAlertsKey, raw, 0).Err(); err != nil {
		return markOutage(fmt.Errorf("keep alert sync mark: %w", err))
	}
	return nil
}
