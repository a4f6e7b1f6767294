package nearby_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/nearby"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// BenchmarkNearby1M runs the nearby handler (no HTTP) against a real Redis
// holding 1,000,000 devices spread over 145 km × 145 km, radius 500–2000 m,
// limit 100, and reports p50/p99 latency per query.
func BenchmarkNearby1M(b *testing.B) {
	rs := testenv.StartRedis(b)
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	const devices, batch = 1_000_000, 5000
	for i := 0; i < devices; i += batch {
		fixes := make([]fix.Fix, batch)
		for j := range fixes {
			fixes[j] = fix.Fix{Device: fmt.Sprintf("d%07d", i+j), TS: now.Add(-time.Minute),
				Lat: 51.5 + (rng.Float64()-0.5)*1.3, Lon: -0.12 + (rng.Float64()-0.5)*2.1, Speed: fix.Float(3)}
		}
		if _, err := store.Save(context.Background(), "bench", []redisstore.Group{{Fixes: fixes}}, now); err != nil {
			b.Fatal(err)
		}
	}
	secret := []byte("bench-secret-0123456789")
	v, _ := auth.NewVerifierWithSecret(secret, auth.Config{})
	tok, _ := auth.Sign(secret, auth.Principal{Tenant: "bench", Role: auth.RoleViewer}, time.Hour)
	fn := nearby.New(locate.New(store), v)
	hdr := http.Header{"Authorization": {"Bearer " + tok}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := fmt.Sprintf("lat=%.5f&lon=%.5f&radius=%d&limit=100", 51.5+(rng.Float64()-0.5)*1.0, -0.12+(rng.Float64()-0.5)*1.6, 500+rng.IntN(1501))
		req := handler.Request{Method: http.MethodGet, Header: hdr, QueryString: q}
		req.WithContext(context.Background())
		start := time.Now()
		resp, err := fn.Handle(req)
		lat = append(lat, time.Since(start))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
