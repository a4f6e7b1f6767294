package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/ratelimit"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestPolicies(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	policyLifecycle(t, client)
}

// TestPoliciesOnCluster: the tenant's keys share its slot; the version and
// tenant set live elsewhere, reached by separate commands.
func TestPoliciesOnCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	client := openClient(t, c.URL)
	policyLifecycle(t, client)
}

func policyLifecycle(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	s := NewPolicies(client, "")
	now := time.Now()
	v0, err := s.PolicyVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "acme", "jti-1", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	// An entry whose keep ended is dropped by the next write and never loaded.
	if err := s.Revoke(ctx, "acme", "jti-old", time.Millisecond, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "acme", "jti-2", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	nb := now.Add(-time.Minute).Truncate(time.Millisecond)
	if err := s.SetNotBefore(ctx, "beta", nb, time.Hour); err != nil {
		t.Fatal(err)
	}
	limits := guard.Limits{Tenant: ratelimit.Rate{PerSecond: 5, Burst: 10}}
	if err := s.SetLimits(ctx, "gamma", limits); err != nil {
		t.Fatal(err)
	}
	v1, err := s.PolicyVersion(ctx)
	if err != nil || v1 <= v0 {
		t.Fatalf("version %d after writes, was %d (%v)", v1, v0, err)
	}
	all, err := s.LoadPolicies(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := all["acme"].Revoked; len(got) != 2 || got["jti-1"].Before(now) || got["jti-2"].IsZero() {
		t.Fatalf("acme revoked %v, want jti-1 and jti-2", got)
	}
	if n, _ := client.ZCard(ctx, revokedKey(DefaultKeyPrefix, "acme")).Result(); n != 2 {
		t.Fatalf("%d entries stored, want the expired one trimmed", n)
	}
	if !all["beta"].NotBefore.Equal(nb) {
		t.Fatalf("beta not_before %v, want %v", all["beta"].NotBefore, nb)
	}
	if all["gamma"].Limits != limits {
		t.Fatalf("gamma limits %+v, want %+v", all["gamma"].Limits, limits)
	}
	if _, ok := all["delta"]; ok {
		t.Fatal("a tenant without policy has one")
	}
	// Past the keep, nothing is loaded and the tenant leaves the set.
	later, err := s.LoadPolicies(ctx, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(later["acme"].Revoked) != 0 {
		t.Fatalf("revocations outlived their keep: %v", later["acme"].Revoked)
	}
	one, err := s.Policy(ctx, "acme", now)
	if err != nil || len(one.Revoked) != 2 {
		t.Fatalf("Policy(acme) = %+v, %v", one, err)
	}
	if err := s.Revoke(ctx, "a{b", "x", time.Hour, now); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("tenant with a brace: %v", err)
	}
}

// TestCacheSeesARevocationOnItsNextPoll: the cached copy changes only on a
// refresh, which reads the version (one GET) and reloads when it moved.
func TestCacheSeesARevocationOnItsNextPoll(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	ctx := context.Background()
	s := NewPolicies(client, "")
	cache := guard.NewCache(s, time.Second)
	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{Tenant: "acme", Role: auth.RoleViewer, TokenID: "j9", IssuedAt: time.Now()}
	if err := cache.Policy("acme").Check(p, time.Now()); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := s.Revoke(ctx, "acme", "j9", time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := cache.Policy("acme").Check(p, time.Now()); err != nil {
		t.Fatalf("the cache changed without a refresh: %v", err)
	}
	if err := cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cache.Policy("acme").Check(p, time.Now()); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after the refresh: %v, want 401", err)
	}
}
