package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestAuditLog(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	ctx := context.Background()
	l := NewAuditLog(client, "", time.Hour)
	start := time.Now()
	var batch []audit.Entry
	for i := range 5 {
		batch = append(batch, audit.Entry{At: start, Tenant: "acme", Role: "admin", Action: audit.ActionHistoryRead,
			Function: "track", Method: "GET", Target: map[string]string{"device": fmt.Sprint("d", i)}, Status: 200})
	}
	batch = append(batch, audit.Entry{At: start, Tenant: "other", Role: "admin", Action: audit.ActionFenceChange})
	if err := l.AppendAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var got []audit.Entry
	cursor := ""
	for page := 0; ; page++ {
		entries, next, err := l.ReadAudit(ctx, "acme", start.Add(-time.Second), time.Time{}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entries...)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("pages never end")
		}
		cursor = next
	}
	if len(got) != 5 {
		t.Fatalf("read %d entries of acme, want 5", len(got))
	}
	for i, e := range got {
		if e.Target["device"] != fmt.Sprint("d", i) || e.ID == "" || e.Tenant != "acme" {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if entries, _, err := l.ReadAudit(ctx, "acme", time.Time{}, start.Add(-time.Minute), "", 10); err != nil || len(entries) != 0 {
		t.Fatalf("entries before they were written: %v, %v", entries, err)
	}
	if _, _, err := l.ReadAudit(ctx, "acme", time.Time{}, time.Time{}, "nope", 10); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad cursor: %v", err)
	}
	// Retention: an append trims entries older than it.
	short := NewAuditLog(client, "", time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	for range 200 { // approximate trimming removes whole stream nodes only
		if err := short.AppendAudit(ctx, []audit.Entry{{At: time.Now(), Tenant: "trim", Action: audit.ActionRuleChange}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AppendAudit(ctx, []audit.Entry{{At: start, Tenant: "acme", Action: audit.ActionRuleChange}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	for range 200 {
		if err := short.AppendAudit(ctx, []audit.Entry{{At: time.Now(), Tenant: "acme", Action: audit.ActionRuleChange}}); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := l.ReadAudit(ctx, "acme", time.Time{}, time.Time{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) >= 206 {
		t.Fatalf("%d entries kept: the retention trimmed nothing", len(all))
	}
}

// BenchmarkAuditAppend: one pipeline per batch; per-entry cost of a lone
// request (batch 1) and of concurrent requests sharing an append (64).
func BenchmarkAuditAppend(b *testing.B) {
	r := testenv.StartRedis(b)
	client, err := Open(r.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	l := NewAuditLog(client, "", time.Hour)
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprint("batch", size), func(b *testing.B) {
			batch := make([]audit.Entry, size)
			for i := range batch {
				batch[i] = audit.Entry{At: time.Now(), Tenant: "acme", Role: "viewer", TokenID: "0123456789abcdef0123456789abcdef",
					Action: audit.ActionHistoryRead, Function: "track", Method: "GET", Target: map[string]string{"device": "van-1"},
					Remote: "198.51.100.7", Status: 200}
			}
			b.ResetTimer()
			for range b.N {
				if err := l.AppendAudit(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/entry")
		})
	}
}
