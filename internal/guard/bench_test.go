package guard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/metrics"
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

// BenchmarkRefusal is the server's cost of one refused request of a tenant
// past its rate, through the runtime (call id, admission, 429 body,
// metrics, access log at LOG_LEVEL=error) with the real HS256 verifier:
// what each answered refusal of a flood costs (no tarpit).
func BenchmarkRefusal(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	inner, err := auth.NewVerifierWithSecret(secret, auth.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Sign(secret, auth.Principal{Tenant: "flood", Role: auth.RoleService}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	cache := NewCache(&source{version: 1, policies: map[string]Policy{}}, time.Second)
	g := New(inner, cache, Options{Defaults: Limits{Tenant: ratelimit.Rate{PerSecond: 0.001, Burst: 1}}, Limited: func(string) {}})
	fn := httpkit.FunctionHandler(handlerFunc(func(handler.Request) (handler.Response, error) {
		return handler.Response{StatusCode: http.StatusAccepted}, nil
	}), httpkit.Options{Name: "bench", Admit: g.Admit, Metrics: metrics.NewRegistry(),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	if _, err := g.Verify(context.Background(), tok); err != nil { // empty the bucket
		b.Fatal(err)
	}
	body := []byte(`{"device":"d1","ts":"2026-11-25T10:00:00Z","lat":47.37,"lon":8.54}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		fn.ServeHTTP(rec, req)
		if rec.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

type handlerFunc func(handler.Request) (handler.Response, error)

func (f handlerFunc) Handle(r handler.Request) (handler.Response, error) { return f(r) }
