package forward

import (
	"context"
	"testing"
)

// BenchmarkEncodeBatch measures building one 500-fix event.
func BenchmarkEncodeBatch(b *testing.B) {
	fixes := makeFixes("d1", 0, 500)
	batch := entries(make([]string, 500)...)
	for i := range batch {
		batch[i].Fix = fixes[i]
	}
	for b.Loop() {
		if _, _, err := encodeBatch("edge-1", batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForward measures the whole path per 500-fix batch: lock, peek,
// encode, POST to a loopback cloud, ack — against redis-server with AOF.
func BenchmarkForward(b *testing.B) {
	e := startEdge(b)
	c := newCloud(b, func(int, *received) action { return action{} }) // answer 200, keep nothing
	f := e.forwarder(b, c, func(cfg *Config) { cfg.MaxBatchesPerRun = 1 })
	fill := makeFixes("d1", 0, 5000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		if e.depth(b) < 500 {
			if err := e.ob.Append(ctx, "acme", fill); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if res, err := f.RunOnce(ctx); err != nil || res.Sent != 500 {
			b.Fatalf("RunOnce = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "fixes/s")
}
