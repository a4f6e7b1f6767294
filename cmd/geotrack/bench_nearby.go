package main

// This file: the nearby query benchmark.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/sender"
)

type nearbyResult struct {
	Devices, Queries int
	RegionKm         float64
	LoadElapsed      time.Duration
	HTTP, Store      []time.Duration
	MeanFound        float64
}

// nearbyRegionKm is the side of the square the devices are spread over, so
// that a 1 km circle holds about 150 of them: tens to hundreds per query.
func nearbyRegionKm(devices int) float64 {
	return max(5, math.Sqrt(float64(devices)*math.Pi/150))
}

func benchNearby(ctx context.Context, exe string, env []string, redisURL, secret, tenant string, devices, queries int) (nearbyResult, error) {
	res := nearbyResult{Devices: devices, Queries: queries, RegionKm: nearbyRegionKm(devices)}
	client, err := redisstore.Open(redisURL)
	if err != nil {
		return res, err
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{})

	fmt.Fprintf(os.Stderr, "bench: loading %d devices over %.0f km × %.0f km…\n", devices, res.RegionKm, res.RegionKm)
	began := time.Now()
	if err := loadNearby(ctx, store, tenant, devices, res.RegionKm); err != nil {
		return res, err
	}
	res.LoadElapsed = time.Since(began)

	nb, err := startServed(ctx, exe, "nearby", env)
	if err != nil {
		return res, err
	}
	defer nb.stop()
	viewer, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleViewer}, time.Hour)
	if err != nil {
		return res, err
	}

	rng := mrand.New(mrand.NewPCG(7, 7))
	type query struct{ lat, lon, radius float64 }
	qs := make([]query, queries)
	for i := range qs {
		lat, lon := regionPoint(rng, res.RegionKm*0.9)
		qs[i] = query{lat, lon, 500 + 1500*rng.Float64()}
	}
	fmt.Fprintf(os.Stderr, "bench: %d nearby queries over HTTP and against the store…\n", queries)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: sender.NewTransport(1)}
	defer httpClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Minute)
	found := 0
	for _, q := range qs {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		u := fmt.Sprintf("%s?lat=%.6f&lon=%.6f&radius=%.0f&limit=100", nb.url, q.lat, q.lon, q.radius)
		t0 := time.Now()
		n, err := nearbyHTTP(ctx, httpClient, u, viewer)
		if err != nil {
			return res, err
		}
		res.HTTP = append(res.HTTP, time.Since(t0))
		found += n
	}
	if len(res.HTTP) > 0 {
		res.MeanFound = float64(found) / float64(len(res.HTTP))
	}
	deadline = time.Now().Add(2 * time.Minute)
	for _, q := range qs {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		if _, err := store.Nearby(ctx, tenant, q.lat, q.lon, q.radius, 100); err != nil {
			return res, err
		}
		res.Store = append(res.Store, time.Since(t0))
	}
	return res, nil
}

func nearbyHTTP(ctx context.Context, c *http.Client, u, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("nearby query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("nearby query: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("nearby query %s: %s: %s", u, resp.Status, bodySnippet(body))
	}
	var r struct {
		Devices []json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("nearby reply: %w", err)
	}
	return len(r.Devices), nil
}

func bodySnippet(b []byte) string {
	return clip.String(strings.TrimSpace(string(b)), 200)
}

// regionPoint is a uniform point of the square of side km around London.
func regionPoint(rng *mrand.Rand, km float64) (lat, lon float64) {
	const mPerDegLat = 111_195.0
	dy := (rng.Float64() - 0.5) * km * 1000
	dx := (rng.Float64() - 0.5) * km * 1000
	lat = fleet.London.Lat + dy/mPerDegLat
	lon = fleet.London.Lon + dx/(mPerDegLat*math.Cos(fleet.London.Lat*math.Pi/180))
	return lat, lon
}

// loadNearby stores one latest fix per device through Store.Save, in
// batches of 5,000 with a few batches in flight.
func loadNearby(ctx context.Context, store *redisstore.Store, tenant string, devices int, km float64) error {
	const batch, workers = 5000, 4
	now := time.Now()
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(11, uint64(w)))
			for first := range jobs {
				fixes := make([]fix.Fix, 0, batch)
				for i := first; i < min(first+batch, devices); i++ {
					lat, lon := regionPoint(rng, km)
					fixes = append(fixes, fix.Fix{
						Device: fmt.Sprintf("nb-%07d", i),
						TS:     now.Add(-time.Duration(rng.IntN(600_000)) * time.Millisecond).Truncate(time.Millisecond),
						Lat:    lat, Lon: lon,
						Acc: fix.Float(5), Speed: fix.Float(0),
					})
				}
				if _, err := store.Save(ctx, tenant, []redisstore.Group{{Fixes: fixes}}, now); err != nil {
					errc <- fmt.Errorf("load nearby devices: %w", err)
					return
				}
			}
		})
	}
	var err error
feed:
	for first := 0; first < devices; first += batch {
		select {
		case jobs <- first:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}
