package edge_test

import (
	"context"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/edge"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// BenchmarkEdgePipeline measures the edge pipeline on a real Redis (AOF
// off): filter state load/save, raw log, outbox append and local store, for
// batches of 100 fixes of one simulated vehicle. b.SetBytes counts fixes, so
// the MB/s column reads as millions of fixes per second.
func BenchmarkEdgePipeline(b *testing.B) {
	rs := testenv.StartRedis(b)
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	settings, err := edge.ParseSettings("", "")
	if err != nil {
		b.Fatal(err)
	}
	cfg := edge.Edge{NodeID: "bench", RawRetention: time.Hour, OutboxMaxLen: 1 << 40}
	pl := edge.NewPipeline(edge.Ports{
		Store:  redisstore.New(client, redisstore.Options{}),
		States: redisstore.NewFilterStates(client),
		Raw:    redisstore.NewRawLog(client, cfg.RawRetention),
		Outbox: outbox.New(client, outbox.Options{MaxLen: 1 << 40}),
	}, settings, cfg)
	track := fleet.Track(1, 10*time.Hour)
	p := auth.Principal{Tenant: "bench", Role: auth.RoleService}
	shift := time.Since(track[0].TS) - time.Hour
	const batch = 100
	b.SetBytes(batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := (i * batch) % (len(track) - batch)
		fixes := make([]fix.Fix, batch)
		copy(fixes, track[start:start+batch])
		// Each lap of the track is a new device, so time keeps increasing.
		for j := range fixes {
			fixes[j].Device = "veh-" + string(rune('a'+(i*batch)/(len(track)-batch)%26))
			fixes[j].TS = fixes[j].TS.Add(shift)
		}
		if _, err := pl.AcceptGroups(context.Background(), p, []intake.Group{{Fixes: fixes}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
