package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

// testNearbyMatchesFullSearch checks the nearby script's narrowed searches
// against one GEOSEARCH over the whole radius: for dense and sparse areas,
// small and large limits, the same devices at the same distances, in order.
func testNearbyMatchesFullSearch(t *testing.T, s *Store, tenant string) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	var fixes []fix.Fix
	// A dense core (2,000 devices within ~1 km) inside a sparse ring (500
	// devices over ~40 km), so probes land on both sides of every branch.
	for i := range 2500 {
		spread := 0.01
		if i >= 2000 {
			spread = 0.4
		}
		fixes = append(fixes, mkFix(fmt.Sprintf("d%04d", i), at(0), 48.85+(rng.Float64()-0.5)*spread, 2.35+(rng.Float64()-0.5)*spread))
	}
	if _, err := s.Save(ctx, tenant, []Group{{Fixes: fixes}}, at(0)); err != nil {
		t.Fatal(err)
	}
	geo := s.mustKeys(t, tenant).geo()
	for q := range 200 {
		lat, lon := 48.85+(rng.Float64()-0.5)*0.3, 2.35+(rng.Float64()-0.5)*0.3
		radius := []float64{30, 150, 600, 2500, 20000}[q%5]
		limit := []int{1, 10, 100, 1000}[q%4]
		got, err := s.Nearby(ctx, tenant, lat, lon, radius, limit)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.client.Do(ctx, "GEOSEARCH", geo, "FROMLONLAT", lon, lat, "BYRADIUS", radius, "m", "ASC",
			"COUNT", limit, "WITHDIST").Slice()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("query %d (r %g m, limit %d): %d devices, full search %d", q, radius, limit, len(got), len(want))
		}
		for i, w := range want {
			pair := w.([]any)
			dist, _ := strconv.ParseFloat(pair[1].(string), 64)
			// Equal distances may come in either order; the distance sequence must match.
			if got[i].DistanceM != dist {
				t.Fatalf("query %d (r %g m, limit %d) #%d: %s at %g m, full search %s at %g m",
					q, radius, limit, i, got[i].Fix.Device, got[i].DistanceM, pair[0], dist)
			}
		}
	}
}
