// Package outbox is the edge's durable queue of kept fixes, waiting to be
// forwarded to the cloud. It is a Redis stream (run Redis with AOF so it
// survives restarts); one entry per fix, removed only after the cloud
// acknowledged it. It needs Redis 6.2 or newer (XTRIM MINID, exclusive XRANGE).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/metrics"
)

// DefaultKey is the outbox stream. The hash tag keeps the outbox, its
// dead-letter stream, counter and lock in one cluster slot, which the Lua
// scripts need.
const DefaultKey = "gt:{edge}:outbox"

// DefaultMaxLen is the default capacity in fixes.
const DefaultMaxLen = 1_000_000

// ErrFull means the batch would exceed the outbox capacity; nothing was
// appended. Edge ingest answers 503 so that devices keep their data and retry.
var ErrFull = errors.New("outbox full")

// Options configure an Outbox.
type Options struct {
	// Key is the stream key; default DefaultKey. Give it a hash tag.
	Key string
	// MaxLen is the capacity in fixes; default DefaultMaxLen.
	MaxLen int64
	// DeadMaxLen caps the dead-letter stream (approximately); 0 keeps every
	// dead letter, which is the default because dropping them would lose data.
	DeadMaxLen int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives geotrack_outbox_appended_total,
	// geotrack_outbox_rejected_total (alert on any increase: the edge is
	// refusing data) and geotrack_outbox_dead_lettered_total; nil keeps them
	// private (still readable through Counters).
	Metrics *metrics.Registry
}

// Outbox is safe for concurrent use.
type Outbox struct {
	client     redis.UniversalClient
	key        string
	deadKey    string
	countKey   string
	maxLen     int64
	deadMaxLen int64
	log        *slog.Logger
	now        func() time.Time

	appended     *metrics.Counter
	rejected     *metrics.Counter
	deadLettered *metrics.Counter
}

// New returns an outbox on client.
func New(client redis.UniversalClient, opts Options) *Outbox {
	if opts.Key == "" {
		opts.Key = DefaultKey
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewRegistry()
	}
	reg := opts.Metrics
	return &Outbox{
		client:     client,
		key:        opts.Key,
		deadKey:    opts.Key + ":dead",
		countKey:   opts.Key + ":dead:count",
		maxLen:     opts.MaxLen,
		deadMaxLen: opts.DeadMaxLen,
		log:        opts.Logger,
		now:        time.Now,

		appended: reg.NewCounter("geotrack_outbox_appended_total",
			"Fixes queued in the edge outbox."),
		rejected: reg.NewCounter("geotrack_outbox_rejected_total",
			"Fixes refused because the edge outbox was full (answered 503)."),
		deadLettered: reg.NewCounter("geotrack_outbox_dead_lettered_total",
			"Outbox entries moved to the dead-letter stream (corrupt or rejected by the cloud)."),
	}
}

// Key is the outbox stream key; related keys (a forwarder's lock) derive from it.
func (o *Outbox) Key() string { return o.key }

// DeadLetterKey is the dead-letter stream key.
func (o *Outbox) DeadLetterKey() string { return o.deadKey }

// Client is the Redis client the outbox uses.
func (o *Outbox) Client() redis.UniversalClient { return o.client }

// Capacity is MaxLen after defaults.
func (o *Outbox) Capacity() int64 { return o.maxLen }

// Append queues fixes of tenant, all or nothing. Each fix must pass
// fix.Validate (the caller already filtered; this guards the queue). It
// returns ErrFull, wrapped, when the batch does not fit.
func (o *Outbox) Append(ctx context.Context, tenant string, fixes []fix.Fix) error {
	if len(fixes) == 0 {
		return nil
	}
	now := o.now()
	args := make([]any, 0, len(fixes)+2)
	args = append(args, o.maxLen, tenant)
	for i := range fixes {
		if err := fix.Validate(&fixes[i], now); err != nil {
			return fmt.Errorf("outbox append: fix %d: %w", i, err)
		}
		data, err := encodeFix(fixes[i])
		if err != nil {
			return fmt.Errorf("outbox append: fix %d: %w", i, err)
		}
		args = append(args, data)
	}
	res, err := appendScript.Run(ctx, o.client, []string{o.key}, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("outbox append %d fixes: %w", len(fixes), err)
	}
	if len(res) != 2 {
		return fmt.Errorf("outbox append: unexpected script reply %v", res)
	}
	if res[0] == 0 {
		o.rejected.Add(float64(len(fixes)))
		// An alert-worthy condition: the uplink has been failing for long.
		o.log.Error("outbox full: refusing fixes", "key", o.key, "depth", res[1],
			"capacity", o.maxLen, "refused", len(fixes), "tenant", tenant)
		return fmt.Errorf("outbox append %d fixes at depth %d of %d: %w", len(fixes), res[1], o.maxLen, ErrFull)
	}
	o.appended.Add(float64(len(fixes)))
	return nil
}

// Peek returns up to max of the oldest entries, oldest first, without
// removing them. Entries that cannot be decoded into a valid fix are moved to
// the dead-letter stream on the way, so they never wedge the queue; Peek
// then reads further to fill the batch.
func (o *Outbox) Peek(ctx context.Context, max int) ([]Entry, error) {
	if max <= 0 {
		return nil, nil
	}
	var out []Entry
	start := "-"
	for len(out) < max {
		want := max - len(out)
		msgs, err := o.client.XRangeN(ctx, o.key, start, "+", int64(want)).Result()
		if err != nil {
			return out, fmt.Errorf("outbox peek: %w", err)
		}
		if len(msgs) == 0 {
			break
		}
		now := o.now()
		var bad []DeadLetterItem
		for _, m := range msgs {
			e, err := decodeEntry(m.ID, m.Values, now)
			if err != nil {
				bad = append(bad, DeadLetterItem{ID: m.ID, Reason: err.Error()})
				continue
			}
			out = append(out, e)
		}
		if len(bad) > 0 {
			if _, err := o.deadLetter(ctx, DeadLetterInfo{}, bad); err != nil {
				return out, fmt.Errorf("outbox peek: %w", err)
			}
		}
		if len(msgs) < want {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

// Ack removes delivered entries. Unknown or already removed ids are ignored,
// so acking twice is harmless.
func (o *Outbox) Ack(ctx context.Context, ids ...string) error {
	if err := NewStream(o.client, o.key).Ack(ctx, ids...); err != nil {
		return fmt.Errorf("outbox %w", err)
	}
	return nil
}

// Stats describe the queue.
type Stats struct {
	Depth        int64     // entries waiting
	Oldest       time.Time // when the oldest waiting entry was appended; zero when empty
	DeadLetters  int64     // entries in the dead-letter stream now
	DeadLettered int64     // entries ever dead-lettered (persistent counter)
}

// OldestAge is how long the oldest entry has waited at now; 0 when empty.
func (s Stats) OldestAge(now time.Time) time.Duration {
	if s.Oldest.IsZero() || now.Before(s.Oldest) {
		return 0
	}
	return now.Sub(s.Oldest)
}

// Stats reads the queue's depth and age in one round trip.
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	pipe := o.client.Pipeline()
	depth := pipe.XLen(ctx, o.key)
	head := pipe.XRangeN(ctx, o.key, "-", "+", 1)
	dead := pipe.XLen(ctx, o.deadKey)
	count := pipe.Get(ctx, o.countKey)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, fmt.Errorf("outbox stats: %w", err)
	}
	var s Stats
	s.Depth = depth.Val()
	s.DeadLetters = dead.Val()
	if n, err := count.Int64(); err == nil {
		s.DeadLettered = n
	}
	if msgs := head.Val(); len(msgs) > 0 {
		t, err := EntryTime(msgs[0].ID)
		if err != nil {
			return s, fmt.Errorf("outbox stats: %w", err)
		}
		s.Oldest = t
	}
	return s, nil
}

// Counters are this process's totals since start (shared by every Outbox
// on the same metrics registry).
type Counters struct {
	Appended     int64 // fixes queued
	Rejected     int64 // fixes refused with ErrFull
	DeadLettered int64 // entries this process moved to the dead-letter stream
}

// Counters returns this process's totals.
func (o *Outbox) Counters() Counters {
	return Counters{
		Appended:     int64(o.appended.Value()),
		Rejected:     int64(o.rejected.Value()),
		DeadLettered: int64(o.deadLettered.Value()),
	}
}
