// Package guard checks every authenticated request against its tenant's
// policy: revoked token ids, the tenant's "not before" instant and the rate
// limits. The policy is a cached copy, refreshed by a short poll of a
// version counter, so a request costs no Redis round trip.
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/ratelimit"
)

// Limits are the request rates of a tenant (all its requests) and of each
// of its devices (requests with a device token). A zero Rate in a tenant's
// override means "the default".
type Limits struct {
	Tenant ratelimit.Rate
	Device ratelimit.Rate
	// TenantFixes bounds the fixes a tenant reports per second (ingest and
	// edge-ingest batches), besides its requests: ChargeFixes.
	TenantFixes ratelimit.Rate
	// TenantInflight bounds a tenant's requests in progress at once in this
	// process (Admit), so a flooding tenant cannot queue ahead of the
	// others; 0: no bound.
	TenantInflight int
}

// orDefault fills the unset rates of l from d.
func (l Limits) orDefault(d Limits) Limits {
	if l.Tenant.PerSecond == 0 {
		l.Tenant = d.Tenant
	}
	if l.Device.PerSecond == 0 {
		l.Device = d.Device
	}
	if l.TenantFixes.PerSecond == 0 {
		l.TenantFixes = d.TenantFixes
	}
	if l.TenantInflight == 0 {
		l.TenantInflight = d.TenantInflight
	}
	return l
}

// Policy is one tenant's revocations and limit overrides.
type Policy struct {
	// Revoked maps a revoked token id to when its entry may be forgotten
	// (the token has expired by then).
	Revoked map[string]time.Time
	// NotBefore refuses every token of the tenant issued before it (a token
	// without iat too); zero: none.
	NotBefore time.Time
	// Limits override the defaults where set.
	Limits Limits
}

// Check refuses a principal whose token the policy revoked.
func (p Policy) Check(pr auth.Principal, now time.Time) error {
	if err := p.checkDenied(pr, now); err != nil {
		return err
	}
	return p.checkNotBefore(pr)
}

// checkDenied refuses a token whose id is on the deny list.
func (p Policy) checkDenied(pr auth.Principal, now time.Time) error {
	if pr.TokenID != "" {
		if until, ok := p.Revoked[pr.TokenID]; ok && now.Before(until) {
			return fmt.Errorf("%w: token %s was revoked", auth.ErrUnauthenticated, pr.TokenID)
		}
	}
	return nil
}

// checkNotBefore refuses a token issued before the tenant's cut.
func (p Policy) checkNotBefore(pr auth.Principal) error {
	if !p.NotBefore.IsZero() && (pr.IssuedAt.IsZero() || pr.IssuedAt.Before(p.NotBefore)) {
		return fmt.Errorf("%w: tenant %s refuses tokens issued before %s: get a new token",
			auth.ErrUnauthenticated, pr.Tenant, p.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Source is where the policies live (redisstore.Policies).
type Source interface {
	// PolicyVersion changes whenever a policy does.
	PolicyVersion(ctx context.Context) (int64, error)
	// LoadPolicies returns every tenant's policy, leaving out what expired
	// by now.
	LoadPolicies(ctx context.Context, now time.Time) (map[string]Policy, error)
}

// fullReloadEvery bounds how long a missed version change (a write whose
// counter increment failed) can go unseen.
const fullReloadEvery = 30 * time.Second

// Cache is the process's copy of the policies.
type Cache struct {
	src      Source
	interval time.Duration
	log      *slog.Logger

	policies atomic.Pointer[map[string]Policy]
	version  int64
	loadedAt time.Time
	failing  bool
}

// NewCache returns an empty cache polling src every interval (Run).
func NewCache(src Source, interval time.Duration) *Cache {
	c := &Cache{src: src, interval: interval, log: slog.Default(), version: -1}
	empty := map[string]Policy{}
	c.policies.Store(&empty)
	return c
}

// Policy is tenant's cached policy.
func (c *Cache) Policy(tenant string) Policy { return (*c.policies.Load())[tenant] }

// Refresh polls the version and reloads the policies when it moved (or the
// last load is old). Only Run (one goroutine) calls it, or a test.
func (c *Cache) Refresh(ctx context.Context) error {
	now := time.Now()
	v, err := c.src.PolicyVersion(ctx)
	if err != nil {
		return fmt.Errorf("poll policy version: %w", err)
	}
	if v == c.version && now.Sub(c.loadedAt) < fullReloadEvery {
		return nil
	}
	policies, err := c.src.LoadPolicies(ctx, now)
	if err != nil {
		return fmt.Errorf("load policies: %w", err)
	}
	c.policies.Store(&policies)
	c.version, c.loadedAt = v, now
	return nil
}

// Run refreshes every interval until ctx ends. A failing poll keeps the
// last copy (logged once per outage): revocations already seen stay in
// force, new ones wait for Redis.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, c.interval+time.Second)
		err := c.Refresh(rctx)
		cancel()
		switch {
		case err != nil && !c.failing && ctx.Err() == nil:
			c.log.Warn("token revocations not refreshed; keeping the last copy", slog.Any("error", err))
			c.failing = true
		case err == nil && c.failing:
			c.log.Info("token revocations refreshed again")
			c.failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Guard is a verifier that adds the tenant policy to another: revocation
// and rate limits. It also hands audited requests on to Auditor.
type Guard struct {
	inner    httpkit.Verifier
	cache    *Cache
	defaults Limits
	limiter  *ratelimit.Limiter
	limited  func(scope string)
	auditor  httpkit.Auditor
	now      func() time.Time
	inflight *sync.Map // tenant → *atomic.Int64, requests admitted and not yet released
	tarpit   tarpit
	// serviceBeforeCut lets a service token issued before the tenant's
	// "not before" through (ForRevocationReads).
	serviceBeforeCut bool
}

// tarpit holds Admit's refusals back: see Options.Tarpit.
type tarpit struct {
	hold time.Duration
	max  int64
	held *sync.Map // tenant → *atomic.Int64, refusals being held
}

// DefaultTarpitMax is Options.TarpitMax when unset.
const DefaultTarpitMax = 64

// MaxTarpit bounds Options.Tarpit: a held answer must go out well within
// the server's write timeout.
const MaxTarpit = 5 * time.Second

// Options of a Guard.
type Options struct {
	Defaults Limits
	// Limited, when set, counts a refused request by scope (tenant, device).
	Limited func(scope string)
	// Auditor gets every request that passed (nil: none).
	Auditor httpkit.Auditor
	// Tarpit is how long Admit's 429 (a tenant or device token past its
	// rate, a tenant at its in-flight cap) is held back before it is sent,
	// on a timer: a client ignoring 429 then waits instead of spending
	// the server's CPU. Each hold is between 3/4 and all of it (jitter);
	// at most MaxTarpit; 0: answered at once.
	Tarpit time.Duration
	// TarpitMax bounds a tenant's refusals held at once (0:
	// DefaultTarpitMax); past it a refusal is answered at once with
	// "Connection: close".
	TarpitMax int
}

// New guards inner with the policies of cache.
func New(inner httpkit.Verifier, cache *Cache, o Options) *Guard {
	tp := tarpit{hold: min(max(o.Tarpit, 0), MaxTarpit), max: int64(o.TarpitMax), held: &sync.Map{}}
	if tp.max <= 0 {
		tp.max = DefaultTarpitMax
	}
	return &Guard{inner: inner, cache: cache, limiter: &ratelimit.Limiter{}, defaults: o.Defaults, limited: o.Limited, auditor: o.Auditor, now: time.Now,
		inflight: &sync.Map{}, tarpit: tp}
}

// WithVerifier is g in front of another verifier, sharing g's policy
// cache, rate buckets and auditor (two functions of one process).
func (g *Guard) WithVerifier(inner httpkit.Verifier) *Guard {
	return &Guard{inner: inner, cache: g.cache, defaults: g.defaults, limiter: g.limiter, limited: g.limited, auditor: g.auditor, now: g.now,
		inflight: g.inflight, tarpit: g.tarpit}
}

// ForRevocationReads is g for the one read an edge node needs in order to
// learn a cut: the tenant's revocation list (tokens?sync=true). Its Verify
// lets a service token issued before the tenant's "not before" through, so
// the cut also reaches the edge nodes whose own token it cut: they enforce
// it on their device tokens at once, and their forwarding stays refused by
// the cloud until they get a new token. A token id on the deny list is
// still refused, and so is every other role's token issued before the cut.
func (g *Guard) ForRevocationReads() *Guard {
	c := *g
	c.serviceBeforeCut = true
	return &c
}

// Verify is inner's verdict, then the tenant's revocations and limits.
func (g *Guard) Verify(ctx context.Context, token string) (auth.Principal, error) {
	p, err := g.inner.Verify(ctx, token)
	if err != nil {
		return p, err
	}
	now := g.now()
	pol := g.cache.Policy(p.Tenant)
	if err := pol.checkDenied(p, now); err != nil {
		return auth.Principal{}, err
	}
	if !g.serviceBeforeCut || p.Role != auth.RoleService {
		if err := pol.checkNotBefore(p); err != nil {
			return auth.Principal{}, err
		}
	}
	limits := pol.Limits.orDefault(g.defaults)

	if p.Role == auth.RoleDevice {
		if ok, wait := g.limiter.Allow("d\x00"+p.Tenant+"\x00"+p.Device, limits.Device, now); !ok {
			return auth.Principal{}, g.refuse("device", fmt.Sprintf("device %s of tenant %s", p.Device, p.Tenant), limits.Device, wait)
		}
	}
	if ok, wait := g.limiter.Allow("t\x00"+p.Tenant, limits.Tenant, now); !ok {
		return auth.Principal{}, g.refuse("tenant", "tenant "+p.Tenant, limits.Tenant, wait)
	}
	return p, nil
}

// Admit is the runtime's admission of a request before its body is read
// (httpkit.Options.Admit): it refuses a tenant whose request bucket is
// empty (a device token whose bucket is empty), and takes one of the
// tenant's in-flight slots (Limits.TenantInflight) or refuses, each with
// 429 at the cost of a cached token check, held back by the tarpit
// (Options.Tarpit). A request it cannot attribute (no or bad token,
// revoked) is let through: the function refuses it with the proper message.
func (g *Guard) Admit(r *http.Request) (release func(), err error) {
	var query url.Values
	if r.Header.Get("Authorization") == "" {
		query = r.URL.Query()
	}
	p, err := g.inner.Verify(r.Context(), auth.Credential(r.Header, query))
	if err != nil {
		return nil, nil
	}
	now := g.now()
	pol := g.cache.Policy(p.Tenant)
	if pol.Check(p, now) != nil {
		return nil, nil
	}
	limits := pol.Limits.orDefault(g.defaults)
	// A tenant (a device token) past its request rate is refused here,
	// before its body is read; Verify takes the token of a request that
	// passes.
	if p.Role == auth.RoleDevice {
		if empty, wait := g.limiter.Empty("d\x00"+p.Tenant+"\x00"+p.Device, limits.Device, now); empty {
			return g.held(p.Tenant, g.refuse("device", fmt.Sprintf("device %s of tenant %s", p.Device, p.Tenant), limits.Device, wait))
		}
	}
	if empty, wait := g.limiter.Empty("t\x00"+p.Tenant, limits.Tenant, now); empty {
		return g.held(p.Tenant, g.refuse("tenant", "tenant "+p.Tenant, limits.Tenant, wait))
	}
	limit := limits.TenantInflight
	if limit <= 0 {
		return nil, nil
	}
	n := counterOf(g.inflight, p.Tenant)
	if n.Add(1) > int64(limit) {
		n.Add(-1)
		if g.limited != nil {
			g.limited("inflight")
		}
		return g.held(p.Tenant, &httpkit.Error{Status: http.StatusTooManyRequests, RetryAfter: time.Second,
			Msg: fmt.Sprintf("tenant %s has %d requests in progress (the most allowed): retry later", p.Tenant, limit)})
	}
	return func() { n.Add(-1) }, nil
}

// held puts Admit's refusal into the tarpit: held back Options.Tarpit
// while the tenant has fewer than TarpitMax refusals held, else answered
// at once with "Connection: close". release frees the tenant's place.
func (g *Guard) held(tenant string, refusal error) (release func(), err error) {
	var e *httpkit.Error
	if g.tarpit.hold <= 0 || !errors.As(refusal, &e) {
		return nil, refusal
	}
	n := counterOf(g.tarpit.held, tenant)
	if n.Add(1) > g.tarpit.max {
		n.Add(-1)
		e.CloseConnection = true
		return nil, e
	}
	e.Hold = jittered(g.tarpit.hold)
	return func() { n.Add(-1) }, e
}

// jittered is a hold between 3/4 and all of hold: refusals held together
// (a flood's workers) are not all answered at the same instant, so they do
// not come back as one burst.
func jittered(hold time.Duration) time.Duration {
	return hold - time.Duration(rand.Int64N(int64(hold)/4+1))
}

// counterOf is key's counter in m, made on first use.
func counterOf(m *sync.Map, key string) *atomic.Int64 {
	c, ok := m.Load(key)
	if !ok {
		c, _ = m.LoadOrStore(key, new(atomic.Int64))
	}
	return c.(*atomic.Int64)
}

// ChargeFixes takes n fixes from the tenant's fixes bucket (Limits.TenantFixes),
// so a tenant sending large batches is bounded by what it stores, not only
// by its requests. The bucket may go into debt: a batch larger than the
// burst passes, and the tenant's next batches wait until it is paid back.
func (g *Guard) ChargeFixes(p auth.Principal, n int) error {
	limits := g.cache.Policy(p.Tenant).Limits.orDefault(g.defaults)
	if ok, wait := g.limiter.AllowN("f\x00"+p.Tenant, limits.TenantFixes, g.now(), n); !ok {
		return g.refuseUnits("fixes", "fixes of tenant "+p.Tenant, "fixes/s", limits.TenantFixes, wait)
	}
	return nil
}

func (g *Guard) refuse(scope, who string, r ratelimit.Rate, wait time.Duration) error {
	return g.refuseUnits(scope, who, "requests/s", r, wait)
}

func (g *Guard) refuseUnits(scope, who, unit string, r ratelimit.Rate, wait time.Duration) error {
	if g.limited != nil {
		g.limited(scope)
	}
	return &httpkit.Error{Status: http.StatusTooManyRequests, RetryAfter: wait,
		Msg: fmt.Sprintf("rate limit of %s exceeded (%g %s, burst %d): retry later", who, r.PerSecond, unit, max(r.Burst, 1))}
}

// Audit passes a request on to the auditor.
func (g *Guard) Audit(a httpkit.Access) {
	if g.auditor != nil {
		g.auditor.Audit(a)
	}
}
