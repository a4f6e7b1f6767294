package eventoutbox

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// BenchmarkRelayDrain measures the relay alone on a real Redis: events of
// one fix each, 100 devices, drained to a sink that acknowledges at once.
// One op is one event delivered (read, decoded, sent, acked).
func BenchmarkRelayDrain(b *testing.B) {
	r := testenv.StartRedis(b)
	client, err := redisstore.Open(r.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	s := redisstore.New(client, redisstore.Options{})
	ctx := context.Background()
	now := time.Now()
	start := now.Add(-time.Hour)
	b.StopTimer()
	queued := 0
	for queued < b.N {
		n := min(b.N-queued, 1000)
		groups := make([]redisstore.Group, n)
		for i := range groups {
			k := queued + i
			ann := &redisstore.Announce{Type: events.TypeLocationUpdated, Source: "urn:bench"}
			groups[i] = redisstore.Group{Announce: ann, Fixes: []fix.Fix{{Device: "dev-" + strconv.Itoa(k%100),
				TS: start.Add(time.Duration(k) * time.Millisecond), Lat: 51.5, Lon: -0.1}}}
		}
		if _, err := s.Save(ctx, "bench", groups, now); err != nil {
			b.Fatal(err)
		}
		queued += n
	}
	sink := &fakeSink{}
	relay := New(client, sink, Config{Logger: quiet})
	b.StartTimer()
	delivered := 0
	for delivered < b.N {
		res, err := relay.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		delivered += res.Delivered
		if res.Delivered == 0 {
			b.Fatalf("stuck at %d of %d", delivered, b.N)
		}
	}
}
