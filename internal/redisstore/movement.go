package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	// known is the state each device had after this process's last write
	// (raw JSON): when it is still what Redis holds, a call that emits
	// nothing is one compare-and-set round trip instead of WATCH, GET and
	// MULTI. Bounded: cleared when it reaches maxKnownStates.
	mu    sync.Mutex
	known map[string]knownState
}

type knownState struct {
	raw   []byte
	state trips.State // raw decoded
}

const maxKnownStates = 100_000

// casStateScript replaces the state only if it is still the one the caller
// computed from: 1 on success, 0 when another writer changed it.
var casStateScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

func (m *MovementStore) remember(key string, raw []byte, s trips.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.known == nil || len(m.known) >= maxKnownStates {
		m.known = map[string]knownState{}
	}
	if raw == nil {
		delete(m.known, key)
		return
	}
	m.known[key] = knownState{raw: raw, state: s}
}

func (m *MovementStore) recall(key string) (knownState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.known[key]
	return k, ok
}

// advanceKnown is the fast path: from the state this process last wrote,
// a step without events is saved with one compare-and-set. done false:
// take the transactional path (no known state, events to write, or the
// state changed elsewhere).
func (m *MovementStore) advanceKnown(ctx context.Context, key string, step func(*trips.State) []movement.Event) (bool, error) {
	known, ok := m.recall(key)
	if !ok {
		return false, nil
	}
	old, s := known.raw, known.state
	before := s
	if evs := step(&s); len(evs) > 0 {
		return false, nil
	}
	if s == before {
		return true, nil
	}
	state, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("encode movement state: %w", err)
	}
	swapped, err := casStateScript.Run(ctx, m.client, []string{key}, old, state, m.opts.StateTTL.Milliseconds()).Int()
	if err != nil {
		return false, markOutage(fmt.Errorf("save movement state: %w", err))
	}
	if swapped != 1 {
		m.remember(key, nil, trips.State{})
		return false, nil
	}
	m.remember(key, state, s)
	return true, nil
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
	if done, err := m.advanceKnown(ctx, key, step); done || err != nil {
		return err
	}
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
			m.remember(key, raw, s)
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
			for _, e := range evs {
				if m.opts.Queue != nil {
					m.opts.Queue(ctx, pipe, tenant, e)
				}
			}
			AppendEvents(ctx, pipe, m.opts.KeyPrefix, tenant, m.opts.LogRetention, time.Now(), logged...)
			return nil
		})
		if err == nil {
			*queued = len(evs)
			m.remember(key, state, s)
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
