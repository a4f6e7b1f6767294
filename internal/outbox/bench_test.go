package outbox

import (
	"context"
	"fmt"
	"testing"
)

// Benchmarks run against a real redis-server with AOF (appendfsync always),
// so they include the fsync an edge node pays.

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			_, client := startRedis(b)
			o := New(client, Options{MaxLen: 1 << 40})
			batch := makeFixes("d1", 0, size)
			ctx := context.Background()
			for b.Loop() {
				if err := o.Append(ctx, "acme", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "fixes/s")
		})
	}
}

// BenchmarkPeekAck is the forwarder's cycle: peek a batch of 500, ack it.
func BenchmarkPeekAck(b *testing.B) {
	const batch = 500
	_, client := startRedis(b)
	o := New(client, Options{MaxLen: 1 << 40})
	ctx := context.Background()
	fill := makeFixes("d1", 0, 10*batch)
	for b.Loop() {
		b.StopTimer()
		if d := depth(b, o); d < batch {
			if err := o.Append(ctx, "acme", fill); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		entries, err := o.Peek(ctx, batch)
		if err != nil || len(entries) != batch {
			b.Fatalf("Peek = %d, %v", len(entries), err)
		}
		if err := o.Ack(ctx, ids(entries)...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "fixes/s")
}

func BenchmarkPeek(b *testing.B) {
	_, client := startRedis(b)
	o := New(client, Options{MaxLen: 1 << 40})
	ctx := context.Background()
	if err := o.Append(ctx, "acme", makeFixes("d1", 0, 500)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if entries, err := o.Peek(ctx, 500); err != nil || len(entries) != 500 {
			b.Fatalf("Peek = %d, %v", len(entries), err)
		}
	}
}
