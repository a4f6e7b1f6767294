package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/trips"
)

// EventQueuer queues one event in tenant's event outbox inside pipe (the
// outbox's Queue): movement's events are written in the same MULTI as the
// state that caused them.
type EventQueuer func(ctx context.Context, pipe redis.Pipeliner, tenant string, e movement.Event)

// MovementOptions tune a MovementStore; zero values take the defaults.
type MovementOptions struct {
	KeyPrefix    string        // default "gt"
	StateTTL     time.Duration // a device silent this long starts afresh (default 30 days)
	LogRetention time.Duration // events older than this leave the event log (default 7 days)
	Source       string        // CloudEvents source of the emitted events
	Queue        EventQueuer   // nil: events go to the event log only
	// Committed runs after a transaction that queued n > 0 events (outside
	// it): registering the tenant with the relay and waking it.
	Committed func(ctx context.Context, tenant string, n int)
}

// MovementStore keeps the trip machine state of each device, as JSON in
// <prefix>:{<tenant>}:mv:<device>, next to the tenant's outbox and event
// log (one cluster slot), and implements movement.StateStore.
type MovementStore struct {
	client redis.UniversalClient
	opts   MovementOptions
}

// NewMovementStore wraps client.
func NewMovementStore(client redis.UniversalClient, opts MovementOptions) *MovementStore {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.StateTTL <= 0 {
		opts.StateTTL = 30 * 24 * time.Hour
	}
	if opts.LogRetention <= 0 {
		opts.LogRetention = DefaultHistoryRetention
	}
	if opts.Source == "" {
		opts.Source = "urn:geotrack:movement"
	}
	return &MovementStore{client: client, opts: opts}
}

// MovementStateKey is where device's machine state lives.
func MovementStateKey(prefix, tenant, device string) string {
	return prefix + ":{" + tenant + "}:mv:" + device
}

// EventLogKey is tenant's event log: a stream of structured CloudEvents
// (field "ce"), trimmed by time to the hot retention.
func EventLogKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:eventlog" }

// maxAdvanceRetries bounds the optimistic retries of one Advance: only a
// concurrent delivery for the same device makes it start over.
const maxAdvanceRetries = 20

// Advance implements movement.StateStore with WATCH/MULTI: the state and
// the events it caused are written together or not at all.
func (m *MovementStore) Advance(ctx context.Context, tenant, device string, step func(*trips.State) []movement.Event) error {
	if !ValidTenant(tenant) {
		return fmt.Errorf("%w: tenant %q", ErrInvalidArgument, tenant)
	}
	key := MovementStateKey(m.opts.KeyPrefix, tenant, device)
	txf := func(tx *redis.Tx, queued *int) error {
		var s trips.State
		raw, err := tx.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return fmt.Errorf("read movement state: %w", err)
		default:
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode movement state of %q: %w", device, err)
			}
		}
		before := s
		evs := step(&s)
		if s == before && len(evs) == 0 {
			return nil
		}
		state, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode movement state: %w", err)
		}
		var logged [][]byte
		for _, e := range evs {
			ce, err := m.cloudEvent(tenant, e)
			if err != nil {
				return err
			}
			logged = append(logged, ce)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, key, state, m.opts.StateTTL)
			minID := strconv.FormatInt(time.Now().Add(-m.opts.LogRetention).UnixMilli(), 10)
			for i, e := range evs {
				if m.opts.Queue != nil {
					m.opts.Queue(ctx, pipe, tenant, e)
				}
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: EventLogKey(m.opts.KeyPrefix, tenant), MinID: minID, Approx: true,
					Values: []any{"ce", logged[i]}})
			}
			return nil
		})
		if err == nil {
			*queued = len(evs)
		}
		return err
	}
	queued := 0
	for range maxAdvanceRetries {
		queued = 0
		err := m.client.Watch(ctx, func(tx *redis.Tx) error {
			err := txf(tx, &queued)
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return markOutage(fmt.Errorf("advance movement of %q: %w", device, err))
		}
		if queued > 0 && m.opts.Committed != nil {
			m.opts.Committed(ctx, tenant, queued)
		}
		return nil
	}
	return fmt.Errorf("advance movement of %q: %d concurrent changes in a row", device, maxAdvanceRetries)
}

// cloudEvent is e in structured mode, as the event log keeps it.
func (m *MovementStore) cloudEvent(tenant string, e movement.Event) ([]byte, error) {
	ce := cloudevents.NewEvent()
	ce.SetID(e.ID)
	ce.SetSource(m.opts.Source)
	ce.SetType(e.Type)
	ce.SetSubject(e.Subject)
	ce.SetTime(e.Time)
	ce.SetExtension(eventtype.ExtTenant, tenant)
	ce.SetDataContentType(cloudevents.ApplicationJSON)
	ce.DataEncoded = e.Data
	out, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	return out, nil
}

// MovementState reads device's machine state (for tests and tools).
func (m *MovementStore) MovementState(ctx context.Context, tenant, device string) (trips.State, bool, error) {
	var s trips.State
	raw, err := m.client.Get(ctx, MovementStateKey(m.opts.KeyPrefix, tenant, device)).Bytes()
	if errors.Is(err, redis.Nil) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	return s, true, json.Unmarshal(raw, &s)
}
