package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrHistoryChanged is wrapped by TrimArchived when the device's history
// before the bound no longer has the count the archiver read: a fix arrived
// after the read, so nothing was removed (the next pass archives it).
var ErrHistoryChanged = errors.New("redisstore: history changed since it was archived")

// trimArchivedScript removes the points with score < ARGV[1] only if there
// are exactly ARGV[2] of them, in one step, and returns how many there were.
var trimArchivedScript = redis.NewScript(`
local n = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1])
if n == tonumber(ARGV[2]) and n > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
end
return n
`)

// TrimArchived removes device's history points with ts < before, which the
// archiver has written to the archive, atomically and only if there are
// exactly archived of them; otherwise it removes nothing and returns an
// error wrapping ErrHistoryChanged.
func (s *Store) TrimArchived(ctx context.Context, tenant, device string, before time.Time, archived int) error {
	keys, err := s.keys(tenant)
	if err != nil {
		return fmt.Errorf("redisstore: trim archived: %w", err)
	}
	n, err := trimArchivedScript.Run(ctx, s.client, []string{keys.history(device)},
		strconv.FormatInt(before.UnixMilli(), 10), archived).Int()
	if err != nil {
		return markOutage(fmt.Errorf("redisstore: trim archived history of %q: %w", device, err))
	}
	if n != archived {
		return fmt.Errorf("%w: %q has %d points before %s, %d were archived", ErrHistoryChanged, device, n, before.UTC().Format(time.RFC3339), archived)
	}
	return nil
}
