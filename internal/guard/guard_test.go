package guard

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/ratelimit"
)

// tokens is a fake verifier: the token string names the principal.
type tokens map[string]auth.Principal

func (t tokens) Verify(_ context.Context, token string) (auth.Principal, error) {
	if p, ok := t[token]; ok {
		return p, nil
	}
	return auth.Principal{}, auth.ErrUnauthenticated
}

// source is a fake policy source.
type source struct {
	version  int64
	policies map[string]Policy
	loads    int
	err      error
}

func (s *source) PolicyVersion(context.Context) (int64, error) { return s.version, s.err }
func (s *source) LoadPolicies(context.Context, time.Time) (map[string]Policy, error) {
	s.loads++
	return s.policies, s.err
}

func TestGuard(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	issued := t0.Add(-time.Hour)
	verifier := tokens{
		"admin":              {Tenant: "acme", Role: auth.RoleAdmin, TokenID: "a1", IssuedAt: issued},
		"revoked":            {Tenant: "acme", Role: auth.RoleAdmin, TokenID: "r1", IssuedAt: issued},
		"expired-revocation": {Tenant: "acme", Role: auth.RoleAdmin, TokenID: "r2", IssuedAt: issued},
		"old":                {Tenant: "beta", Role: auth.RoleViewer, TokenID: "b1", IssuedAt: t0.Add(-2 * time.Hour)},
		"fresh":              {Tenant: "beta", Role: auth.RoleViewer, TokenID: "b2", IssuedAt: t0},
		"no-iat":             {Tenant: "beta", Role: auth.RoleViewer},
		"d1":                 {Tenant: "gamma", Role: auth.RoleDevice, Device: "d1"},
		"d2":                 {Tenant: "gamma", Role: auth.RoleDevice, Device: "d2"},
		"svc":                {Tenant: "gamma", Role: auth.RoleService},
	}
	src := &source{version: 1, policies: map[string]Policy{
		"acme":  {Revoked: map[string]time.Time{"r1": t0.Add(time.Hour), "r2": t0.Add(-time.Second)}},
		"beta":  {NotBefore: t0.Add(-time.Hour)},
		"gamma": {Limits: Limits{Tenant: ratelimit.Rate{PerSecond: 1, Burst: 3}}},
	}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var limited []string
	g := New(verifier, cache, Options{
		Defaults: Limits{Tenant: ratelimit.Rate{PerSecond: 100, Burst: 100}, Device: ratelimit.Rate{PerSecond: 1, Burst: 2}},
		Limited:  func(scope string) { limited = append(limited, scope) },
	})
	g.now = func() time.Time { return t0 }

	steps := []struct {
		token  string
		status int // 0: accepted
	}{
		{"admin", 0},
		{"revoked", http.StatusUnauthorized},
		{"expired-revocation", 0},
		{"old", http.StatusUnauthorized},
		{"fresh", 0},
		{"no-iat", http.StatusUnauthorized},
		{"unknown", http.StatusUnauthorized},
		// gamma: devices have 2 each, the tenant 3 in all.
		{"d1", 0}, {"d1", 0}, {"d1", http.StatusTooManyRequests},
		{"d2", 0}, {"svc", http.StatusTooManyRequests}, {"d2", http.StatusTooManyRequests},
	}
	for i, s := range steps {
		_, err := g.Verify(context.Background(), s.token)
		got := 0
		if err != nil {
			got = httpkit.StatusOf(err)
		}
		if got != s.status {
			t.Fatalf("step %d (%s): status %d (%v), want %d", i, s.token, got, err, s.status)
		}
		if got == http.StatusTooManyRequests {
			var he *httpkit.Error
			if !errors.As(err, &he) || he.RetryAfter <= 0 {
				t.Fatalf("step %d: 429 without Retry-After: %v", i, err)
			}
		}
	}
	if want := []string{"device", "tenant", "tenant"}; len(limited) != len(want) || limited[0] != want[0] || limited[1] != want[1] {
		t.Fatalf("limited scopes %v, want %v", limited, want)
	}
}

func TestCacheReloadsOnlyWhenTheVersionMoves(t *testing.T) {
	src := &source{version: 7, policies: map[string]Policy{}}
	c := NewCache(src, time.Second)
	ctx := context.Background()
	for range 3 {
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if src.loads != 1 {
		t.Fatalf("%d loads for an unchanged version, want 1", src.loads)
	}
	src.version = 8
	src.policies = map[string]Policy{"acme": {NotBefore: time.Now()}}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if src.loads != 2 || c.Policy("acme").NotBefore.IsZero() {
		t.Fatalf("loads %d, policy %+v: want a reload with the new policy", src.loads, c.Policy("acme"))
	}
	// A failing source keeps the last copy.
	src.version, src.err = 9, errors.New("redis down")
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("a failing source refreshed")
	}
	if c.Policy("acme").NotBefore.IsZero() {
		t.Fatal("the last copy was lost when the source failed")
	}
}

func TestChargeFixes(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	src := &source{version: 1, policies: map[string]Policy{
		"big": {Limits: Limits{TenantFixes: ratelimit.Rate{PerSecond: 1000, Burst: 1000}}},
	}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var limited []string
	g := New(tokens{}, cache, Options{Defaults: Limits{TenantFixes: ratelimit.Rate{PerSecond: 10, Burst: 100}},
		Limited: func(scope string) { limited = append(limited, scope) }})
	g.now = func() time.Time { return t0 }
	acme := auth.Principal{Tenant: "acme", Role: auth.RoleService}
	if err := g.ChargeFixes(acme, 500); err != nil {
		t.Fatalf("a batch beyond the burst from a full bucket: %v", err)
	}
	err := g.ChargeFixes(acme, 1)
	var he *httpkit.Error
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter < 40*time.Second {
		t.Fatalf("next batch while 400 fixes in debt at 10/s: %v, want 429 with Retry-After ≥ 40 s", err)
	}
	if err := g.ChargeFixes(auth.Principal{Tenant: "big"}, 900); err != nil {
		t.Fatalf("the override of tenant big: %v", err)
	}
	if err := g.ChargeFixes(auth.Principal{Tenant: "other"}, 50); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	if len(limited) != 1 || limited[0] != "fixes" {
		t.Fatalf("limited %v, want [fixes]", limited)
	}
}

func TestAdmitCapsEachTenantsRequestsInFlight(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	verifier := tokens{
		"flood":   {Tenant: "flood", Role: auth.RoleService},
		"quiet":   {Tenant: "quiet", Role: auth.RoleService},
		"one":     {Tenant: "one", Role: auth.RoleService},
		"revoked": {Tenant: "flood", Role: auth.RoleService, TokenID: "r1"},
	}
	src := &source{version: 1, policies: map[string]Policy{
		"flood": {Revoked: map[string]time.Time{"r1": t0.Add(time.Hour)}},
		"one":   {Limits: Limits{TenantInflight: 1}}, // an override below the default
	}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := New(verifier, cache, Options{Defaults: Limits{TenantInflight: 2}})
	g.now = func() time.Time { return t0 }
	request := func(token string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/?token="+token, nil)
		return r
	}
	admit := func(token string) (func(), error) {
		t.Helper()
		return g.Admit(request(token))
	}

	// The flooding tenant gets its two slots, then 429 with Retry-After.
	r1, err1 := admit("flood")
	r2, err2 := admit("flood")
	if err1 != nil || err2 != nil || r1 == nil || r2 == nil {
		t.Fatalf("first two requests of flood: %v, %v (releases %v, %v)", err1, err2, r1 != nil, r2 != nil)
	}
	_, err := admit("flood")
	var he *httpkit.Error
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter <= 0 {
		t.Fatalf("third request of flood in flight: %v, want 429 with Retry-After", err)
	}
	// Another tenant is not affected by flood's slots.
	rq, err := admit("quiet")
	if err != nil || rq == nil {
		t.Fatalf("quiet while flood is full: %v", err)
	}
	rq()
	// A released slot is free again.
	r1()
	r3, err := admit("flood")
	if err != nil || r3 == nil {
		t.Fatalf("flood after a release: %v", err)
	}
	r2()
	r3()

	// A tenant override applies; tokens the function must refuse itself
	// (unknown, revoked) pass untouched and take no slot.
	ro, err := admit("one")
	if err != nil || ro == nil {
		t.Fatalf("one's first request: %v", err)
	}
	if _, err := admit("one"); err == nil {
		t.Fatal("one's second request in flight was admitted (override 1)")
	}
	ro()
	for _, token := range []string{"nobody", "revoked", ""} {
		rel, err := admit(token)
		if rel != nil || err != nil {
			t.Errorf("token %q: release %v, error %v; want neither (the function answers)", token, rel != nil, err)
		}
	}

	// The header credential is read like the query's.
	h, _ := http.NewRequest(http.MethodPost, "/", nil)
	h.Header.Set("Authorization", "Bearer flood")
	rels := []func(){}
	for range 2 {
		rel, err := g.Admit(h)
		if err != nil || rel == nil {
			t.Fatalf("flood by header: %v", err)
		}
		rels = append(rels, rel)
	}
	if _, err := g.Admit(h); err == nil {
		t.Fatal("flood by header: third request in flight admitted")
	}
	for _, rel := range rels {
		rel()
	}

	// No cap: nothing to release.
	off := New(verifier, cache, Options{})
	if rel, err := off.Admit(request("flood")); rel != nil || err != nil {
		t.Fatalf("without a cap: release %v, error %v", rel != nil, err)
	}
}

func TestAdmitRefusesATenantPastItsRateBeforeTheBody(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	verifier := tokens{
		"flood": {Tenant: "flood", Role: auth.RoleService},
		"quiet": {Tenant: "quiet", Role: auth.RoleService},
	}
	cache := NewCache(&source{version: 1}, time.Second)
	g := New(verifier, cache, Options{Defaults: Limits{Tenant: ratelimit.Rate{PerSecond: 1, Burst: 2}}})
	g.now = func() time.Time { return t0 }
	request := func(token string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	// Admission only peeks: the burst is taken by Verify, as before.
	for i := range 2 {
		if _, err := g.Admit(request("flood")); err != nil {
			t.Fatalf("admit %d within the burst: %v", i, err)
		}
		if _, err := g.Verify(context.Background(), "flood"); err != nil {
			t.Fatalf("verify %d within the burst: %v", i, err)
		}
	}
	_, err := g.Admit(request("flood"))
	var he *httpkit.Error
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter != time.Second {
		t.Fatalf("admit past the burst: %v, want 429 with Retry-After 1s", err)
	}
	if _, err := g.Admit(request("quiet")); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

// TestAdmitHoldsRefusalsInTheTarpit: each kind of Admit refusal is held
// Options.Tarpit while the tenant has fewer than TarpitMax held, then
// answered at once with Connection: close; a release frees the place; a
// tarpit of 0 answers at once.
func TestAdmitHoldsRefusalsInTheTarpit(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	verifier := tokens{
		"rate":     {Tenant: "rate", Role: auth.RoleService},
		"device":   {Tenant: "fleet", Role: auth.RoleDevice, Device: "van-1"},
		"inflight": {Tenant: "busy", Role: auth.RoleService},
		"quiet":    {Tenant: "quiet", Role: auth.RoleService},
	}
	src := &source{version: 1, policies: map[string]Policy{
		"rate": {Limits: Limits{Tenant: ratelimit.Rate{PerSecond: 1, Burst: 1}}},
		"busy": {Limits: Limits{TenantInflight: 1}},
	}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	request := func(token string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	cases := []struct {
		name      string
		token     string
		tarpit    time.Duration
		scope     string
		wantHold  time.Duration
		wantInMsg string
	}{
		{"tenant past its rate", "rate", 800 * time.Millisecond, "tenant", 800 * time.Millisecond, "tenant rate"},
		{"device token past its rate", "device", 800 * time.Millisecond, "device", 800 * time.Millisecond, "device van-1"},
		{"tenant at its in-flight cap", "inflight", 800 * time.Millisecond, "inflight", 800 * time.Millisecond, "in progress"},
		{"tarpit past its bound", "rate", time.Hour, "tenant", MaxTarpit, "tenant rate"},
		{"no tarpit", "rate", 0, "tenant", 0, "tenant rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var limited []string
			g := New(verifier, cache, Options{
				Defaults: Limits{Device: ratelimit.Rate{PerSecond: 1, Burst: 1}},
				Tarpit:   c.tarpit, TarpitMax: 2,
				Limited: func(s string) { limited = append(limited, s) },
			})
			g.now = func() time.Time { return t0 }
			// Use up the budget: one admitted request fills busy's single
			// slot; one Verify empties the 1/s buckets.
			if c.token == "inflight" {
				rel, err := g.Admit(request(c.token))
				if err != nil || rel == nil {
					t.Fatalf("busy's first request: %v", err)
				}
				defer rel()
			} else if _, err := g.Verify(context.Background(), c.token); err != nil {
				t.Fatalf("first request: %v", err)
			}
			refuse := func() (func(), *httpkit.Error) {
				t.Helper()
				rel, err := g.Admit(request(c.token))
				var he *httpkit.Error
				if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter <= 0 ||
					!strings.Contains(he.Msg, c.wantInMsg) {
					t.Fatalf("refusal: %v, want 429 with Retry-After naming %q", err, c.wantInMsg)
				}
				return rel, he
			}
			// A hold is between 3/4 and all of the tarpit (jitter).
			holds := func(d time.Duration) bool { return d <= c.wantHold && d >= c.wantHold*3/4 }
			first, he := refuse()
			if !holds(he.Hold) || he.CloseConnection {
				t.Fatalf("first refusal: hold %s close %v, want hold %s (-1/4), connection kept", he.Hold, he.CloseConnection, c.wantHold)
			}
			if c.tarpit == 0 {
				if first != nil {
					t.Fatal("no tarpit: a release for a refusal answered at once")
				}
				return
			}
			second, he := refuse()
			if first == nil || second == nil || !holds(he.Hold) {
				t.Fatalf("second refusal: release %v/%v, hold %s; want both held", first != nil, second != nil, he.Hold)
			}
			// Two held (TarpitMax): the third is answered at once, closing.
			third, he := refuse()
			if third != nil || he.Hold != 0 || !he.CloseConnection {
				t.Fatalf("refusal past TarpitMax: release %v, hold %s, close %v; want at once with Connection: close", third != nil, he.Hold, he.CloseConnection)
			}
			// Another tenant is not held by this one's tarpit.
			if rel, err := g.Admit(request("quiet")); err != nil {
				t.Fatalf("quiet tenant: %v", err)
			} else if rel != nil {
				rel()
			}
			first()
			again, he := refuse()
			if again == nil || !holds(he.Hold) {
				t.Fatalf("after a release: release %v, hold %s; want held again", again != nil, he.Hold)
			}
			again()
			second()
			if len(limited) != 4 || limited[0] != c.scope {
				t.Fatalf("counted %v, want 4 × %s", limited, c.scope)
			}
		})
	}
}

// A tenant's "not before" cuts an edge node's service token too; the node
// must still read the revocation list to learn the cut (ForRevocationReads),
// while the ordinary Verify and every other role stay cut.
func TestForRevocationReadsLetsACutServiceTokenReadTheList(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	old := t0.Add(-2 * time.Hour)
	verifier := tokens{
		"svc-old":     {Tenant: "acme", Role: auth.RoleService, TokenID: "s1", IssuedAt: old},
		"svc-denied":  {Tenant: "acme", Role: auth.RoleService, TokenID: "s2", IssuedAt: old},
		"svc-new":     {Tenant: "acme", Role: auth.RoleService, TokenID: "s3", IssuedAt: t0},
		"admin-old":   {Tenant: "acme", Role: auth.RoleAdmin, TokenID: "a1", IssuedAt: old},
		"device-old":  {Tenant: "acme", Role: auth.RoleDevice, Device: "d1", TokenID: "d1", IssuedAt: old},
		"svc-no-iat":  {Tenant: "acme", Role: auth.RoleService, TokenID: "s4"},
		"other-svc":   {Tenant: "beta", Role: auth.RoleService, TokenID: "b1", IssuedAt: old},
		"other-admin": {Tenant: "beta", Role: auth.RoleAdmin, TokenID: "b2", IssuedAt: old},
	}
	src := &source{version: 1, policies: map[string]Policy{
		"acme": {NotBefore: t0.Add(-time.Hour), Revoked: map[string]time.Time{"s2": t0.Add(time.Hour)}},
	}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := New(verifier, cache, Options{Defaults: Limits{Tenant: ratelimit.Rate{PerSecond: 100, Burst: 100}}})
	g.now = func() time.Time { return t0 }
	reads := g.ForRevocationReads()

	cases := []struct {
		token        string
		verify, read int // 0: accepted
	}{
		{"svc-old", http.StatusUnauthorized, 0},
		{"svc-no-iat", http.StatusUnauthorized, 0},
		{"svc-denied", http.StatusUnauthorized, http.StatusUnauthorized},
		{"svc-new", 0, 0},
		{"admin-old", http.StatusUnauthorized, http.StatusUnauthorized},
		{"device-old", http.StatusUnauthorized, http.StatusUnauthorized},
		{"other-svc", 0, 0},
		{"other-admin", 0, 0},
	}
	status := func(err error) int {
		if err == nil {
			return 0
		}
		return httpkit.StatusOf(err)
	}
	for _, c := range cases {
		t.Run(c.token, func(t *testing.T) {
			_, err := g.Verify(context.Background(), c.token)
			if got := status(err); got != c.verify {
				t.Errorf("Verify: status %d (%v), want %d", got, err, c.verify)
			}
			_, err = reads.Verify(context.Background(), c.token)
			if got := status(err); got != c.read {
				t.Errorf("ForRevocationReads().Verify: status %d (%v), want %d", got, err, c.read)
			}
		})
	}
}
