package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Options.
const (
	DefaultHistoryRetention = 7 * 24 * time.Hour
	DefaultDedupTTL         = 24 * time.Hour
	DefaultKeyPrefix        = "gt"
)

// MaxLimit caps the limit of Nearby and History, so one query cannot pull a
// whole tenant into memory.
const MaxLimit = 10000

// ErrInvalidArgument is wrapped by every error caused by the caller's input
// (tenant, limits, ranges, coordinates, fixes), as opposed to Redis failures;
// HTTP handlers map it to 400.
var ErrInvalidArgument = errors.New("invalid argument")

// Options tune a Store; zero values take the defaults.
type Options struct {
	HistoryRetention time.Duration // how long history points are kept (default 7 days)
	DedupTTL         time.Duration // how long a CloudEvent source+id is remembered (default 24h)
	KeyPrefix        string        // first key segment (default "gt"); must not contain '{' or '}'
	// EventOutboxMaxLen caps each tenant's event outbox (default
	// DefaultEventOutboxMaxLen); an announcing Save beyond it fails with
	// intake.ErrOutboxFull.
	EventOutboxMaxLen int64
	// KeepOld is set when an archive tier exists: fixes older than
	// now-HistoryRetention are stored (not counted TooOld), and Save
	// neither trims history nor lets it expire; the archiver trims
	// (TrimArchived).
	KeepOld bool
	// DeviceQuota caps the devices a tenant holds (0: no cap); a tenant's
	// override (Policies.SetQuotas) wins. A new device beyond it is
	// refused: its fixes are not stored (GroupResult.OverQuota). Negative:
	// not enforced, not even an override (an edge node's copy of what it
	// forwards; the cloud enforces).
	DeviceQuota int
}

// Store is the Redis hot store; it is safe for concurrent use.
type Store struct {
	client     redis.UniversalClient
	opts       Options
	committers sync.Map // tenant -> *committer (see Save)
	emitters   emitters
}

// New wraps client. It panics on a KeyPrefix with braces, which would break
// the per-tenant hash tag: that is a programming error, not a runtime one.
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.HistoryRetention <= 0 {
		opts.HistoryRetention = DefaultHistoryRetention
	}
	if opts.DedupTTL <= 0 {
		opts.DedupTTL = DefaultDedupTTL
	}
	if opts.EventOutboxMaxLen <= 0 {
		opts.EventOutboxMaxLen = DefaultEventOutboxMaxLen
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		panic(fmt.Sprintf("redisstore: KeyPrefix %q must not contain '{' or '}'", opts.KeyPrefix))
	}
	return &Store{client: client, opts: opts}
}

// Options returns the effective options, defaults filled in.
func (s *Store) Options() Options { return s.opts }

// Client returns the underlying client, e.g. for Close.
func (s *Store) Client() redis.UniversalClient { return s.client }
