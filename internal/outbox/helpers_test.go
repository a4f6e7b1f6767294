package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

var baseTS = time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC)

// startRedis starts a real redis-server with AOF (appendfsync always), as on
// the edge, and returns it with a client.
func startRedis(t testing.TB) (*testenv.Redis, *redis.Client) {
	t.Helper()
	srv := testenv.StartRedis(t, testenv.WithAppendOnly())
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	return srv, client
}

func makeFixes(device string, from, n int) []fix.Fix {
	out := make([]fix.Fix, n)
	for i := range out {
		out[i] = fix.Fix{
			Device: device,
			TS:     baseTS.Add(time.Duration(from+i) * time.Second),
			Lat:    52.5 + float64(from+i)*1e-5,
			Lon:    13.4,
		}
	}
	return out
}

func mustAppend(t testing.TB, o *Outbox, tenant string, fixes []fix.Fix) {
	t.Helper()
	if err := o.Append(context.Background(), tenant, fixes); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func mustPeek(t testing.TB, o *Outbox, max int) []Entry {
	t.Helper()
	got, err := o.Peek(context.Background(), max)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return got
}

func depth(t testing.TB, o *Outbox) int64 {
	t.Helper()
	s, err := o.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s.Depth
}

// key identifies a fix by device and time, as the cloud deduplicates.
func key(f fix.Fix) string { return fmt.Sprintf("%s@%s", f.Device, fix.FormatTime(f.TS)) }

func ids(entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.ID
	}
	return out
}
