package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrHistoryChanged is wrapped by TrimArchived when the device's history
// before the bound no longer holds the points the archiver read (a late fix
// arrived in between): nothing was removed, the archiver reads again.
var ErrHistoryChanged = errors.New("history changed since it was archived")

//go:embed trim.lua
var trimLua string

var trimScript = redis.NewScript(recordsLua + trimLua)

// TrimArchived removes device's history points with ts < before, atomically
// and only if there are exactly archived of them; otherwise it returns an
// error wrapping ErrHistoryChanged and removes nothing.
func (s *Store) TrimArchived(ctx context.Context, tenant, device string, before time.Time, archived int) error {
	if archived < 0 {
		return fmt.Errorf("redisstore: trim archived: %w: archived %d is negative", ErrInvalidArgument, archived)
	}
	if _, err := s.trim(ctx, tenant, device, before, archived); err != nil {
		return fmt.Errorf("redisstore: trim archived: %w", err)
	}
	return nil
}

// trim runs trim.lua: it removes device's points before the bound and
// returns how many, refusing (ErrHistoryChanged) when expect >= 0 and the
// count differs.
func (s *Store) trim(ctx context.Context, tenant, device string, before time.Time, expect int) (int, error) {
	keys, err := s.keys(tenant)
	if err != nil {
		return 0, err
	}
	n, err := trimScript.Run(ctx, s.client, []string{keys.history(device)},
		keys.base, device, strconv.FormatInt(before.UnixMilli(), 10), bucketMS, expect).Int()
	if err != nil {
		if redis.HasErrorPrefix(err, "HISTORYCHANGED") {
			return 0, fmt.Errorf("history of %q: %w: %w", device, ErrHistoryChanged, err)
		}
		return 0, markOutage(fmt.Errorf("history of %q: %w", device, err))
	}
	return n, nil
}
