package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/intake"
)

// DefaultEventOutboxMaxLen is the default capacity of a tenant's event
// outbox, in events.
const DefaultEventOutboxMaxLen = 1_000_000

// outboxFullPrefix starts the script's error reply for a full outbox.
const outboxFullPrefix = "OUTBOXFULL"

// EventOutboxKey is the Redis stream holding tenant's queued events. It
// carries the tenant's hash tag, so the save script writes it atomically with
// the fixes (one cluster slot).
func EventOutboxKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:events" }

// DerivedOutboxKey is the Redis stream holding tenant's derived events:
// those queued in reaction to a delivered location event (geofence
// transitions). The relay drains it apart from EventOutboxKey, so they do
// not wait behind location events still to be delivered; each device's
// events keep their order within each stream. Same hash tag as the tenant's
// other keys.
func DerivedOutboxKey(prefix, tenant string) string {
	return EventOutboxKey(prefix, tenant) + ":derived"
}

// EmittersKey is the set of tenants that ever queued an event: the relay's
// list of outboxes to look at. It is written before a tenant's first event
// and never pruned (it grows with tenants, not with events).
func EmittersKey(prefix string) string { return prefix + ":events:tenants" }

// EventID is the id of an event of eventType caused by the fix of device at
// tsMS (unix ms) of tenant: the first fix it announces. A stored fix is
// stored once, so the id is unique, and deterministic: the same event
// rebuilt or redelivered keeps its id and consumers can drop the repeat.
// save.lua computes the same value with redis.sha1hex.
func EventID(eventType, tenant, device string, tsMS int64) string {
	sum := sha1.Sum([]byte(eventType + "\x1f" + tenant + "\x1f" + device + "\x1f" + strconv.FormatInt(tsMS, 10)))
	return hex.EncodeToString(sum[:])
}

// emitters remembers, per process, when each tenant was last written to
// EmittersKey, so that an announcing Save pays the extra round trip once a
// minute per tenant. Re-registering (rather than once per process) restores
// the set if Redis lost it (a restart without persistence, a flush), so the
// relay never overlooks an outbox for long.
type emitters struct {
	known sync.Map // tenant -> time.Time of the last SADD
}

// reregisterAfter is how long a tenant's registration is trusted.
const reregisterAfter = time.Minute

func (s *Store) registerEmitter(ctx context.Context, tenant string) error {
	if at, ok := s.emitters.known.Load(tenant); ok && time.Since(at.(time.Time)) < reregisterAfter {
		return nil
	}
	if err := s.client.SAdd(ctx, EmittersKey(s.opts.KeyPrefix), tenant).Err(); err != nil {
		return fmt.Errorf("register tenant %q in the event outbox list: %w", tenant, err)
	}
	s.emitters.known.Store(tenant, time.Now())
	return nil
}

// announces reports whether any group asks for an event.
func announces(groups []Group) bool {
	for _, g := range groups {
		if g.Announce != nil {
			return true
		}
	}
	return false
}

// outboxFull turns the script's OUTBOXFULL error reply into
// intake.ErrOutboxFull.
func outboxFull(err error) error {
	if err != nil && strings.Contains(err.Error(), outboxFullPrefix) {
		return fmt.Errorf("%w: %s", intake.ErrOutboxFull, strings.TrimSpace(err.Error()[strings.Index(err.Error(), outboxFullPrefix)+len(outboxFullPrefix):]))
	}
	return err
}
