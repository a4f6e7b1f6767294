package eventoutbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"

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
	drainAll(ctx, b, relay)
}

// BenchmarkRelayDrainPerDevice measures the relay draining per-device
// events (as geofence-detect queues them: one subject each, ~1000 devices
// interleaved) to an HTTP sink in batch mode that reads each request and
// answers 202, on a real Redis, events signed. One op is one event
// delivered.
func BenchmarkRelayDrainPerDevice(b *testing.B) {
	for _, tc := range []struct{ batch, read int }{{1, 100}, {100, 100}, {100, 1000}, {1000, 1000}} {
		batch := tc.batch
		b.Run("EVENT_SINK_BATCH="+strconv.Itoa(batch)+"/read="+strconv.Itoa(tc.read), func(b *testing.B) {
			r := testenv.StartRedis(b)
			client, err := redisstore.Open(r.URL)
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			ctx := context.Background()
			start := time.Now().Add(-time.Hour)
			for queued := 0; queued < b.N; {
				n := min(b.N-queued, 1000)
				_, err := client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					for i := 0; i < n; i++ {
						k := queued + i
						dev := "dev-" + strconv.Itoa(k%1000)
						Queue(ctx, pipe, "gt", "bench", Event{Type: events.TypeGeofenceEntered, Source: "urn:bench", Subject: dev,
							ID: "ev-" + strconv.Itoa(k), Time: start.Add(time.Duration(k) * time.Millisecond),
							Data: json.RawMessage(`{"device":"` + dev + `","fence":"f01234","name":"polygon 1234","ts":"2026-11-29T12:00:00Z","lat":51.5,"lon":-0.1}`)})
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				queued += n
			}
			if err := Register(ctx, client, "gt", "bench"); err != nil {
				b.Fatal(err)
			}
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				requests.Add(1)
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			sink, err := events.NewSink(events.SinkConfig{EventSink: srv.URL, EventSinkBatch: batch})
			if err != nil {
				b.Fatal(err)
			}
			relay := New(client, sink, Config{Logger: quiet, BatchSize: tc.read, Signer: auth.NewEventSigner([]byte("bench-key"))})
			b.ResetTimer()
			drainAll(ctx, b, relay)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(requests.Load()), "events/request")
		})
	}
}

// drainAll runs relay passes until b.N events are delivered; a pass that
// delivers nothing fails the benchmark.
func drainAll(ctx context.Context, b *testing.B, relay *Relay) {
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
