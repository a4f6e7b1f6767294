package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	r := testenv.StartRedis(b)
	client, err := Open(r.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	return New(client, Options{})
}

// BenchmarkSaveBatch1000 saves one CloudEvent of 1000 fixes over 100 devices
// per op; fixes/s = 1000 * ops/s.
func BenchmarkSaveBatch1000(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	start := now.Add(-24 * time.Hour)
	batch := make([]fix.Fix, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			// Fresh timestamps every op, so nothing is a duplicate.
			batch[j] = mkFix(fmt.Sprintf("dev-%03d", j%100), start.Add(time.Duration(i*10+j/100)*time.Millisecond), 48+float64(j%100)/1000, 11)
		}
		res, err := s.Save(ctx, "bench", []Group{{Source: "/bench", ID: fmt.Sprint(i), Fixes: batch}}, now)
		if err != nil || res.Accepted != len(batch) {
			b.Fatalf("Save: %+v, %v", res.Accepted, err)
		}
	}
}

// BenchmarkSaveSingle saves one fix per op, the common HTTP ingest case.
func BenchmarkSaveSingle(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	start := now.Add(-24 * time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := mkFix(fmt.Sprintf("dev-%d", i%1000), start.Add(time.Duration(i)*time.Millisecond), 48, 11)
		res, err := s.Save(ctx, "bench", []Group{{Source: "/bench", ID: fmt.Sprint(i), Fixes: []fix.Fix{f}}}, now)
		if err != nil || res.Accepted != 1 {
			b.Fatalf("Save: %+v, %v", res, err)
		}
	}
}

// BenchmarkNearby searches 1 km around a point among 10,000 devices spread
// over ~20x20 km, returning the nearest 50.
func BenchmarkNearby(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	fixes := make([]fix.Fix, 10000)
	for i := range fixes {
		fixes[i] = mkFix(fmt.Sprintf("dev-%05d", i), now.Add(-time.Minute), 48+float64(i/100)*0.0018, 11+float64(i%100)*0.0027)
	}
	if _, err := s.Save(ctx, "bench", []Group{{Fixes: fixes}}, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		near, err := s.Nearby(ctx, "bench", 48.09, 11.135, 1000, 50)
		if err != nil || len(near) != 50 {
			b.Fatalf("Nearby: %d results, %v", len(near), err)
		}
	}
}

// BenchmarkEncode1000 is the Go-side share of BenchmarkSaveBatch1000:
// validation, JSON and argument packing, without Redis.
func BenchmarkEncode1000(b *testing.B) {
	s := New(nil, Options{})
	k, _ := s.keys("bench")
	now := time.Now()
	batch := make([]fix.Fix, 1000)
	for j := range batch {
		batch[j] = mkFix(fmt.Sprintf("dev-%03d", j%100), now.Add(time.Duration(j)*time.Millisecond-time.Hour), 48, 11)
	}
	groups, _ := s.prepare([]Group{{Source: "/bench", ID: "1", Fixes: batch}}, now)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.encode(k, groups, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveNewDevices saves 1000 fixes of 1000 devices never seen before
// per op: the case where the device quota is checked (one HGET, and with a
// quota one SCARD; "full" also SMISMEMBERs and refuses them all).
func BenchmarkSaveNewDevices(b *testing.B) {
	for _, bc := range []struct {
		name  string
		quota int
	}{{"no quota", 0}, {"quota with room", 1 << 30}, {"quota full", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(benchStore(b).client, Options{DeviceQuota: bc.quota})
			ctx := context.Background()
			now := time.Now()
			if bc.quota == 1 {
				save := []Group{{Fixes: []fix.Fix{mkFix("first", now.Add(-time.Hour), 48, 11)}}}
				if _, err := s.Save(ctx, "bench", save, now); err != nil {
					b.Fatal(err)
				}
			}
			batch := make([]fix.Fix, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = mkFix(fmt.Sprintf("dev-%d-%d", i, j), now.Add(-time.Hour), 48+float64(j)/10000, 11)
				}
				if _, err := s.Save(ctx, "bench", []Group{{Fixes: batch}}, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
