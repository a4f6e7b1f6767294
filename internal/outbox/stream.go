package outbox

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stream is a durable FIFO in one Redis stream whose entries are removed
// only when acknowledged. The edge's fix outbox (Outbox) and the cloud's
// event outbox (internal/eventoutbox) are both Streams; they differ in what
// an entry holds and who writes it.
type Stream struct {
	client redis.UniversalClient
	key    string
}

// NewStream is the stream at key.
func NewStream(client redis.UniversalClient, key string) *Stream {
	return &Stream{client: client, key: key}
}

// Key is the stream key.
func (s *Stream) Key() string { return s.key }

// Head returns up to max entries, oldest first, after the entry with id
// after ("" = from the start), without removing them.
func (s *Stream) Head(ctx context.Context, after string, max int) ([]redis.XMessage, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := s.client.XRangeN(ctx, s.key, start, "+", int64(max)).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.key, err)
	}
	return msgs, nil
}

// Ack removes delivered entries. Unknown or already removed ids are ignored,
// so acking twice is harmless.
func (s *Stream) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	parsed := make([]streamID, 0, len(ids))
	for _, id := range ids {
		p, err := parseStreamID(id)
		if err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		parsed = append(parsed, p)
	}
	slices.SortFunc(parsed, func(a, b streamID) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	parsed = slices.Compact(parsed)
	args := make([]any, 0, len(parsed)+1)
	args = append(args, parsed[len(parsed)-1].next().String())
	for _, id := range parsed {
		args = append(args, id.String())
	}
	if err := ackScript.Run(ctx, s.client, []string{s.key}, args...).Err(); err != nil {
		return fmt.Errorf("ack %d entries of %s: %w", len(parsed), s.key, err)
	}
	return nil
}

// Depth is how many entries wait and when the oldest was appended (zero
// when empty), in one round trip.
func (s *Stream) Depth(ctx context.Context) (int64, time.Time, error) {
	pipe := s.client.Pipeline()
	depth := pipe.XLen(ctx, s.key)
	head := pipe.XRangeN(ctx, s.key, "-", "+", 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, time.Time{}, fmt.Errorf("depth of %s: %w", s.key, err)
	}
	var oldest time.Time
	if msgs := head.Val(); len(msgs) > 0 {
		t, err := EntryTime(msgs[0].ID)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("depth of %s: %w", s.key, err)
		}
		oldest = t
	}
	return depth.Val(), oldest, nil
}
