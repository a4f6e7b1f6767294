package functions

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/functions/forwarder"
	fnmovement "github.com/geotrack/geotrack/functions/movement"
	fnpreferences "github.com/geotrack/geotrack/functions/preferences"
	fntrips "github.com/geotrack/geotrack/functions/trips"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/eventoutbox"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/preferences"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// The movement functions: live trips and stops, and the trips report.

func buildMovement(ctx context.Context, d *Deps) (*Built, error) {
	var cfg fnmovement.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	relay, err := d.EventRelay(cfg.Redis, cfg.SinkConfig)
	if err != nil {
		return nil, err
	}
	opts := redisstore.MovementOptions{StateTTL: cfg.StateTTL, LogRetention: cfg.EventLogRetention, Source: cfg.Source}
	if relay != nil { // no sink: nothing may be queued (no relay drains it); the event log still gets them
		reg := &tenantRegistry{client: client}
		opts.Queue = func(ctx context.Context, pipe redis.Pipeliner, tenant string, e movement.Event) {
			eventoutbox.Queue(ctx, pipe, redisstore.DefaultKeyPrefix, tenant, eventoutbox.Event{
				Type: e.Type, Source: cfg.Source, Subject: e.Subject, ID: e.ID, Time: e.Time, Data: e.Data,
			})
		}
		opts.Committed = func(ctx context.Context, tenant string, n int) {
			reg.register(ctx, tenant)
			relay.Wake(tenant)
		}
	}
	signer, err := d.EventSigner()
	if err != nil {
		return nil, err
	}
	live := movement.NewLive(redisstore.NewMovementStore(client, opts), preferenceService(client))
	return &Built{Handler: fnmovement.New(live, verifier, signer, d.Metrics), Ready: pinger(client)}, nil
}

// tenantRegistry lists a tenant with the relay (eventoutbox.Register) at
// most once a minute per tenant, as the hot store does for location events,
// so a lost emitters set is restored soon without a round trip per call.
type tenantRegistry struct {
	client redis.UniversalClient
	mu     sync.Mutex
	last   map[string]time.Time
}

func (r *tenantRegistry) register(ctx context.Context, tenant string) {
	r.mu.Lock()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	due := time.Since(r.last[tenant]) > time.Minute
	if due {
		r.last[tenant] = time.Now()
	}
	r.mu.Unlock()
	if !due {
		return
	}
	if err := eventoutbox.Register(ctx, r.client, redisstore.DefaultKeyPrefix, tenant); err != nil {
		slog.WarnContext(ctx, "register tenant with the event relay", "tenant", tenant, "err", err)
		r.mu.Lock()
		delete(r.last, tenant) // try again next time
		r.mu.Unlock()
	}
}

func buildTrips(ctx context.Context, d *Deps) (*Built, error) {
	var cfg fntrips.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	history, err := historyOfTiers(store, cfg.ColdConfig, "trips")
	if err != nil {
		return nil, err
	}
	reports := movement.NewReports(history, preferenceService(store.Client()))
	return &Built{Handler: fntrips.New(reports, verifier), Ready: ready}, nil
}

// preferenceService reads tenants' preferences from the Redis of client,
// each tenant's cached for preferences.DefaultCacheTTL.
func preferenceService(client redis.UniversalClient) *preferences.Service {
	return preferences.NewService(redisstore.NewPreferencesStore(client, ""), 0)
}

func buildPreferences(ctx context.Context, d *Deps) (*Built, error) {
	var cfg fnpreferences.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	return &Built{Handler: fnpreferences.New(preferenceService(client), verifier), Ready: pinger(client)}, nil
}

// preferencesSyncer starts the process's sync of the cloud's preferences
// (nil without PREFERENCES_URL): the last copy is restored from the edge
// Redis first, so a restarted node applies it even with the cloud away.
func (d *Deps) preferencesSyncer(ctx context.Context, client redis.UniversalClient, ec edge.Edge) (*preferences.Syncer, error) {
	if ec.PreferencesURL == "" {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.syncer != nil {
		return d.syncer, nil
	}
	token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("PREFERENCES_URL is set but the %s secret (or %s) is empty", forwarder.TokenSecret, forwarder.TokenEnv)
	}
	s := &preferences.Syncer{URL: ec.PreferencesURL, Token: token, Interval: ec.PreferencesInterval,
		Store: redisstore.SyncedPreferences{Client: client}}
	if d.Metrics != nil {
		version := d.Metrics.NewGauge("geotrack_edge_preferences_version", "Version of the tenant preferences this edge node applies (0: none yet).")
		s.OnChange = func(c preferences.Synced) { version.Set(float64(c.Set.Version)) }
	}
	if err := s.Restore(ctx); err != nil {
		slog.Warn("restore synced preferences", "err", err) // the sync loop retries the Redis
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); s.Run(loopCtx, slog.Default()) }()
	d.stops = append(d.stops, func() { cancel(); <-done })
	d.syncer = s
	return s, nil
}

// preferencesDetail is the /_/ready line of an edge function with a
// preferences sync: the version it applies ("" without PREFERENCES_URL).
func (d *Deps) preferencesDetail() string {
	d.mu.Lock()
	s := d.syncer
	d.mu.Unlock()
	if s == nil {
		return ""
	}
	c, ok := s.Current()
	if !ok {
		return "preferences_version=none (not synced yet)"
	}
	return fmt.Sprintf("preferences_version=%d tenant=%s", c.Set.Version, c.Tenant)
}
