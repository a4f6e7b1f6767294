package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// DeviceDigest names an erased device in tombstones and receipts: the hex
// SHA-256 of tenant, a unit separator and the device id, so neither holds
// the id in clear.
func DeviceDigest(tenant, device string) string {
	sum := sha256.Sum256([]byte(tenant + "\x1f" + device))
	return hex.EncodeToString(sum[:])
}

// ReasonErased is the drop reason of a fix older than its device's
// erasure (geotrack_ingest_dropped_total{reason="erased"}).
const ReasonErased = "erased"

// Tombstones reads a tenant's erasure instants by DeviceDigest
// (redisstore.Privacy).
type Tombstones interface {
	Tombstones(ctx context.Context, tenant string) (map[string]time.Time, error)
}

// Gate is the ingest gate of the cloud pipeline (cloud.Gate).
type Gate interface {
	Gate(ctx context.Context, tenant string, f fix.Fix) (string, error)
}

// DefaultGateTTL is how long ErasureGate keeps a tenant's tombstones: an
// erasure reaches every ingest replica within it.
const DefaultGateTTL = time.Second

// ErasureGate drops fixes of an erased device older than its erasure
// (an edge outbox draining after the erase), then asks Next. Fixes newer
// than the erasure pass: they start a new history. The tombstones of a
// tenant are read at most once per TTL, not per fix.
type ErasureGate struct {
	Next       Gate // may be nil
	Tombstones Tombstones
	TTL        time.Duration

	mu    sync.Mutex
	cache map[string]cachedTombstones
}

type cachedTombstones struct {
	at    time.Time
	stone map[string]time.Time
}

// Gate implements cloud.Gate.
func (g *ErasureGate) Gate(ctx context.Context, tenant string, f fix.Fix) (string, error) {
	stones, err := g.load(ctx, tenant)
	if err != nil {
		return "", err
	}
	if len(stones) > 0 {
		if at, ok := stones[DeviceDigest(tenant, f.Device)]; ok && f.TS.Before(at) {
			return ReasonErased, nil
		}
	}
	if g.Next == nil {
		return "", nil
	}
	return g.Next.Gate(ctx, tenant, f)
}

func (g *ErasureGate) load(ctx context.Context, tenant string) (map[string]time.Time, error) {
	ttl := g.TTL
	if ttl <= 0 {
		ttl = DefaultGateTTL
	}
	now := time.Now()
	g.mu.Lock()
	c, ok := g.cache[tenant]
	g.mu.Unlock()
	if ok && now.Sub(c.at) < ttl {
		return c.stone, nil
	}
	stones, err := g.Tombstones.Tombstones(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("erasure tombstones: %w", err)
	}
	g.mu.Lock()
	if g.cache == nil {
		g.cache = map[string]cachedTombstones{}
	}
	g.cache[tenant] = cachedTombstones{at: now, stone: stones}
	g.mu.Unlock()
	return stones, nil
}
