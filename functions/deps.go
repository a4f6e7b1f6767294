package functions

import (
	"context"
	"fmt"
	"log/slog"
	neturl "net/url"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/eventoutbox"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/preferences"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// RedisPasswordSecret is the OpenFaaS secret holding the Redis password.
const RedisPasswordSecret = "redis-password"

// Deps holds the adapters shared by the functions of one process, so the
// dev runner opens one Redis pool for all of them. Metrics is the process's
// registry, where each function built registers its series (nil: they are
// kept in a registry nobody serves). Set Sink or Verifier to override what
// the environment would select.
type Deps struct {
	Metrics  *metrics.Registry
	Sink     events.Sink
	Verifier httpkit.Verifier

	mu      sync.Mutex
	clients map[string]redis.UniversalClient
	relays  map[string]*eventoutbox.Relay
	stops   []func()            // run before closers: relays use clients and sinks
	syncer  *preferences.Syncer // the edge's preferences sync, one per process (wire_movement.go)
	eraser  bool                // the edge's erasure sync runs, one per process (wire_privacy.go)
	revsync bool                // the edge's revocation sync runs, one per process (wire_security.go)
	alerts  *edge.Alerts        // the edge's fence and rule sync and evaluation, one per process (wire_edgealerts.go)
	signer  *eventSigner        // loaded once per process (EventSigner)
	closers []func() error

	// guards, per Redis: revocations, limits, audit (wire_security.go).
	guards map[string]*guard.Guard
}

// Redis returns a client for rc, opened once per process.
func (d *Deps) Redis(rc config.Redis) (redis.UniversalClient, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	url, caFile := rc.RedisURL, rc.RedisTLSCAFile
	key := fmt.Sprint(url, "\x00", caFile, "\x00", rc.RedisDialTimeout, "\x00", rc.RedisTimeout)
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	password, err := config.Secret(RedisPasswordSecret, "REDIS_PASSWORD")
	if err != nil {
		return nil, err
	}
	opts := []redisstore.OpenOption{redisstore.WithTimeouts(rc.RedisDialTimeout, rc.RedisTimeout)}
	if password != "" {
		opts = append(opts, redisstore.WithPassword(password))
	}
	if caFile != "" {
		opts = append(opts, redisstore.WithCAFile(caFile))
	}
	c, err := redisstore.Open(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", redactURL(url), err)
	}
	if d.clients == nil {
		d.clients = map[string]redis.UniversalClient{}
	}
	d.clients[key] = c
	d.closers = append(d.closers, c.Close)
	return c, nil
}

// EventSink returns the override sink or the configured one.
func (d *Deps) EventSink(cfg events.SinkConfig) (events.Sink, error) {
	if d.Sink != nil {
		return d.Sink, nil
	}
	s, err := events.NewSink(cfg)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.closers = append(d.closers, s.Close)
	d.mu.Unlock()
	return s, nil
}

// EventRelay returns the process's relay of the event outboxes on the Redis
// at rc to the sink of sc (one per Redis URL, shared by every emitting
// function of the process), running until Close unless sc disables it. It
// returns nil when no sink is configured: then nothing may be queued.
func (d *Deps) EventRelay(rc config.Redis, sc events.SinkConfig) (*eventoutbox.Relay, error) {
	sink, err := d.EventSink(sc)
	if err != nil {
		return nil, err
	}
	if !events.Enabled(sink) {
		return nil, nil
	}
	client, err := d.Redis(rc)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := rc.RedisURL + "\x00" + rc.RedisTLSCAFile
	if r, ok := d.relays[key]; ok {
		return r, nil
	}
	signer, err := d.eventSignerLocked()
	if err != nil {
		return nil, err
	}
	r := eventoutbox.New(client, sink, eventoutbox.Config{
		Interval: sc.RelayInterval, SendTimeout: sc.RelayTimeout, MaxBackoff: sc.RelayMaxBackoff, Metrics: d.Metrics,
		ParallelShared: sc.RelayParallelShared,
		Signer:         signer,
	})
	if d.relays == nil {
		d.relays = map[string]*eventoutbox.Relay{}
	}
	d.relays[key] = r
	if !sc.RelayDisabled {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		d.stops = append(d.stops, func() { cancel(); <-done })
	}
	return r, nil
}

type eventSigner struct{ s *auth.EventSigner }

// EventSigner returns the process's event signer (auth.LoadEventSigner):
// the relay signs what it sends with it, and event-triggered functions
// accept deliveries signed with it. nil (no event-signing-key and no
// jwt-secret: OIDC only) means signing is off, which is logged once.
func (d *Deps) EventSigner() (*auth.EventSigner, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eventSignerLocked()
}

func (d *Deps) eventSignerLocked() (*auth.EventSigner, error) {
	if d.signer != nil {
		return d.signer.s, nil
	}
	s, from, err := auth.LoadEventSigner()
	if err != nil {
		return nil, err
	}
	if s == nil {
		slog.Warn("event signing is off (no " + auth.EventSigningKeySecret + " or " + auth.SecretName + " secret): emitted events are unsigned and event-triggered functions accept only bearer tokens")
	} else {
		slog.Debug("event signing on", "key", from)
	}
	d.signer = &eventSigner{s}
	return s, nil
}

// Auth returns the override verifier or one built from cfg and the secret.
func (d *Deps) Auth(cfg auth.Config) (httpkit.Verifier, error) {
	if d.Verifier != nil {
		return d.Verifier, nil
	}
	return auth.NewVerifier(cfg)
}

// RedisAndAuth is the preamble of most functions: the hot store's client
// and the token verifier.
func (d *Deps) RedisAndAuth(rc config.Redis, ac auth.Config) (redis.UniversalClient, httpkit.Verifier, error) {
	client, err := d.Redis(rc)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := d.Auth(ac)
	if err != nil {
		return nil, nil, err
	}
	return client, d.guarded(client, rc, ac, verifier), nil
}

// Close releases every adapter.
func (d *Deps) Close() error {
	d.mu.Lock()
	stops := d.stops
	d.stops, d.relays = nil, nil
	d.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for _, c := range d.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	d.closers, d.clients, d.guards = nil, nil, nil
	return first
}

// pinger is the readiness probe of functions backed by Redis.
func pinger(c redis.UniversalClient) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := c.Ping(ctx).Err(); err != nil {
			if _, marked := dependency.As(err); marked {
				return err // already says "redis unavailable: ..."
			}
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
}

// redactURL hides a password in a Redis URL for error messages.
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
