package guard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/ratelimit"
)

// BenchmarkGuardVerify is what the guard adds to a request whose token is
// already verified (cached): the revocation lookup and two token buckets,
// no Redis. Compare with BenchmarkInnerOnly.
func BenchmarkGuardVerify(b *testing.B) {
	revoked := map[string]time.Time{}
	for i := range 10_000 {
		revoked[fmt.Sprint("jti-", i)] = time.Now().Add(time.Hour)
	}
	src := &source{version: 1, policies: map[string]Policy{"acme": {Revoked: revoked, NotBefore: time.Now().Add(-time.Hour)}}}
	cache := NewCache(src, time.Second)
	if err := cache.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	inner := tokens{"d": {Tenant: "acme", Role: auth.RoleDevice, Device: "d1", TokenID: "x", IssuedAt: time.Now()}}
	g := New(inner, cache, Options{Defaults: Limits{
		Tenant: ratelimit.Rate{PerSecond: 1e9, Burst: 1e9}, Device: ratelimit.Rate{PerSecond: 1e9, Burst: 1e9}}})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Verify(ctx, "d"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkInnerOnly(b *testing.B) {
	inner := tokens{"d": {Tenant: "acme", Role: auth.RoleDevice, Device: "d1"}}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := inner.Verify(ctx, "d"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
