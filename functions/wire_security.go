package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	auditfn "github.com/geotrack/geotrack/functions/audit"
	"github.com/geotrack/geotrack/functions/forwarder"
	"github.com/geotrack/geotrack/functions/tokens"
	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/ratelimit"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// Issue 12 (h16): token revocation, rate limits and the audit trail, the
// same for every Redis-backed function: RedisAndAuth wraps the verifier.

// defaultRevocationPoll is the poll of a zero auth.Config.
const defaultRevocationPoll = time.Second

// guarded returns verifier behind the process's guard for the Redis at rc:
// one policy cache (polled in the background until Close), one set of rate
// buckets and one audit recorder per Redis, shared by the functions of the
// process.
func (d *Deps) guarded(client redis.UniversalClient, rc config.Redis, ac auth.Config, verifier httpkit.Verifier) httpkit.Verifier {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := rc.RedisURL + "\x00" + rc.RedisTLSCAFile
	if g, ok := d.guards[key]; ok {
		return g.WithVerifier(verifier)
	}
	poll := ac.RevocationPoll
	if poll <= 0 {
		poll = defaultRevocationPoll
	}
	retention := ac.AuditRetention
	if retention <= 0 {
		retention = 90 * 24 * time.Hour
	}
	cache := guard.NewCache(redisstore.NewPolicies(client, ""), poll)
	recorder := audit.NewRecorder(redisstore.NewAuditLog(client, "", retention), d.Metrics)
	opts := guard.Options{
		Defaults: guard.Limits{
			Tenant:         ratelimit.Rate{PerSecond: ac.RateLimitTenant, Burst: ac.RateLimitTenantBurst},
			Device:         ratelimit.Rate{PerSecond: ac.RateLimitDevice, Burst: ac.RateLimitDeviceBurst},
			TenantFixes:    ratelimit.Rate{PerSecond: ac.RateLimitTenantFixes, Burst: ac.RateLimitTenantFixesBurst},
			TenantInflight: ac.RateLimitTenantInflight,
		},
		Auditor:   recorder,
		Tarpit:    ac.RateLimitTarpit,
		TarpitMax: ac.RateLimitTarpitMax,
	}
	if d.Metrics != nil {
		limited := d.Metrics.NewCounterVec("geotrack_rate_limited_total",
			"Requests refused with 429 by a rate limit, by scope: tenant (requests), device (requests of a device token), fixes (fixes of a tenant), inflight (a tenant's requests in progress).", "scope")
		// The series exist from the start (a rate of 0, not absent); each
		// refusal of a flood finds its counter without the vector's lookup.
		byScope := map[string]*metrics.Counter{}
		for _, scope := range []string{"tenant", "device", "fixes", "inflight"} {
			byScope[scope] = limited.With(scope)
		}
		opts.Limited = func(scope string) {
			if c, ok := byScope[scope]; ok {
				c.Inc()
				return
			}
			limited.With(scope).Inc()
		}
	}
	g := guard.New(verifier, cache, opts)

	// A first load before serving, so a restarted replica does not accept
	// revoked tokens until its first poll; Redis down: start anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = cache.Refresh(ctx)
	cancel()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(runCtx) }()
	d.stops = append(d.stops, func() { stop(); <-done; _ = recorder.Close() })
	if d.guards == nil {
		d.guards = map[string]*guard.Guard{}
	}
	d.guards[key] = g
	return g
}

func buildTokens(ctx context.Context, d *Deps) (*Built, error) {
	var cfg tokens.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	if cfg.MaxTokenLifetime <= 0 {
		return nil, errors.New("tokens: AUTH_MAX_TOKEN_LIFETIME must be positive (how long a revocation is kept)")
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	poll := cfg.RevocationPoll
	if poll <= 0 {
		poll = defaultRevocationPoll
	}
	set := tokens.Settings{Keep: cfg.MaxTokenLifetime + cfg.Leeway, EffectiveWithin: revocationDelay(poll)}
	if g, ok := verifier.(*guard.Guard); ok {
		set.SyncVerifier = g.ForRevocationReads()
	}
	return &Built{Handler: tokens.New(redisstore.NewPolicies(client, ""), verifier, set), Ready: pinger(client)}, nil
}

// revocationDelay is how long a revocation takes to reach every replica at
// most: one poll interval, plus the reload it triggers (bounded by the poll
// timeout of guard.Cache.Run, one more second).
func revocationDelay(poll time.Duration) time.Duration { return poll + time.Second }

func buildAudit(ctx context.Context, d *Deps) (*Built, error) {
	var cfg auditfn.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, verifier, err := d.RedisAndAuth(cfg.Redis, cfg.Config)
	if err != nil {
		return nil, err
	}
	return &Built{Handler: auditfn.New(redisstore.NewAuditLog(client, "", cfg.AuditRetention), verifier), Ready: pinger(client)}, nil
}

// fixCharged charges the fixes of each request to its tenant's fixes
// bucket (RATE_LIMIT_TENANT_FIXES) before they are stored, so a tenant
// posting large batches is bounded by what it stores.
type fixCharged struct {
	next  intake.Acceptor
	guard *guard.Guard
}

func (a fixCharged) AcceptGroups(ctx context.Context, p auth.Principal, groups []intake.Group, rejected []intake.Rejection) (intake.Summary, error) {
	n := 0
	for _, g := range groups {
		n += len(g.Fixes)
	}
	if err := a.guard.ChargeFixes(p, n); err != nil {
		return intake.Summary{}, err
	}
	return a.next.AcceptGroups(ctx, p, groups, rejected)
}

// admission is the runtime's admission of the guard that verifies the
// function's requests (a tenant's in-flight cap, before the body is read);
// nil without a guard.
func admission(v httpkit.Verifier) func(*http.Request) (func(), error) {
	if g, ok := v.(*guard.Guard); ok {
		return g.Admit
	}
	return nil
}

// chargedByFixes puts next behind the fixes bucket of the guard that
// verified the request (none: a verifier override without a guard).
func chargedByFixes(next intake.Acceptor, v httpkit.Verifier) intake.Acceptor {
	if g, ok := v.(*guard.Guard); ok {
		return fixCharged{next: next, guard: g}
	}
	return next
}

// startRevocationSync runs an edge node's copy of the cloud's revocations
// (TOKENS_URL) into the node's Redis, once per process.
func (d *Deps) startRevocationSync(ctx context.Context, client redis.UniversalClient, ec edge.Edge, ac auth.Config) error {
	if ec.TokensURL == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.revsync {
		return nil
	}
	token, err := config.Secret(forwarder.TokenSecret, forwarder.TokenEnv)
	if err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("TOKENS_URL is set but the %s secret (or %s) is empty", forwarder.TokenSecret, forwarder.TokenEnv)
	}
	keep := ac.MaxTokenLifetime + ac.Leeway
	if ac.MaxTokenLifetime <= 0 {
		keep = 720 * time.Hour
	}
	s := &guard.RevocationSync{URL: ec.TokensURL, Token: token, Interval: ec.TokensInterval, Keep: keep,
		Store: redisstore.NewPolicies(client, "")}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); s.Run(loopCtx, slog.Default()) }()
	d.stops = append(d.stops, func() { cancel(); <-done })
	d.revsync = true
	return nil
}
