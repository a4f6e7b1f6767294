package forward

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/testenv"
)

var baseTS = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// edge is an edge node's Redis (AOF on) with its outbox.
type edge struct {
	srv    *testenv.Redis
	client *redis.Client
	ob     *outbox.Outbox
}

func startEdge(t testing.TB) *edge {
	t.Helper()
	srv := testenv.StartRedis(t, testenv.WithAppendOnly())
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	return &edge{srv: srv, client: client, ob: outbox.New(client, outbox.Options{Logger: quiet})}
}

// forwarder returns a forwarder of e to c; adjust tweaks its config.
func (e *edge) forwarder(t testing.TB, c *cloud, adjust func(*Config)) *Forwarder {
	t.Helper()
	cfg := Config{URL: c.srv.URL, Token: c.token, NodeID: "edge-1", Logger: quiet,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if adjust != nil {
		adjust(&cfg)
	}
	f, err := New(e.ob, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func (e *edge) depth(t testing.TB) int64 {
	t.Helper()
	s, err := e.ob.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s.Depth
}

func (e *edge) append(t testing.TB, tenant string, fixes []fix.Fix) {
	t.Helper()
	// Edge ingest appends in request-sized chunks.
	for len(fixes) > 0 {
		n := min(len(fixes), 200)
		if err := e.ob.Append(context.Background(), tenant, fixes[:n]); err != nil {
			t.Fatalf("Append: %v", err)
		}
		fixes = fixes[n:]
	}
}

func makeFixes(device string, from, n int) []fix.Fix {
	out := make([]fix.Fix, n)
	for i := range out {
		out[i] = fix.Fix{
			Device: device,
			TS:     baseTS.Add(time.Duration(from+i) * time.Second),
			Lat:    48.1 + float64(from+i)*1e-5,
			Lon:    11.5,
			Speed:  fix.Float(float64(i % 30)),
		}
	}
	return out
}

func key(f fix.Fix) string { return fmt.Sprintf("%s@%s", f.Device, fix.FormatTime(f.TS)) }

// eventually polls cond until it holds, failing after a generous deadline.
// It bounds a wait; it asserts nothing about how long the wait took.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, what, 30*time.Second, cond)
}
