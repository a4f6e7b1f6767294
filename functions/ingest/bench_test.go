package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/cloud"
	"github.com/geotrack/geotrack/internal/eventoutbox"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// BenchmarkHandleBatch1000 measures ingest's handler on a real Redis with
// 1,000 fixes of 1,000 devices per request: decoding, validation and the
// store's script, without HTTP, and without an event sink (nothing queued).
func BenchmarkHandleBatch1000(b *testing.B) { benchHandle(b, 1000, 1000, false) }

// BenchmarkHandleSingle is one fix per request.
func BenchmarkHandleSingle(b *testing.B) { benchHandle(b, 1, 1000, false) }

// BenchmarkHandleBatch1000Outbox is BenchmarkHandleBatch1000 with an event
// sink configured: each request also queues its location.updated event in
// the event outbox (same script call), and the in-process relay delivers
// the outbox to an in-memory sink meanwhile, as in production. Compare
// with BenchmarkHandleBatch1000 for the outbox's cost.
func BenchmarkHandleBatch1000Outbox(b *testing.B) { benchHandle(b, 1000, 1000, true) }

// BenchmarkHandleSingleOutbox is BenchmarkHandleSingle with the outbox.
func BenchmarkHandleSingleOutbox(b *testing.B) { benchHandle(b, 1, 1000, true) }

// countingSink acknowledges every event at once.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Send(context.Context, event.Event) error { s.n.Add(1); return nil }
func (s *countingSink) Close() error                            { return nil }

func benchHandle(b *testing.B, perRequest, devices int, outbox bool) {
	rs := testenv.StartRedis(b)
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	secret := []byte("bench-secret-0123456789")
	v, err := auth.NewVerifierWithSecret(secret, auth.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := auth.Sign(secret, auth.Principal{Tenant: "bench", Role: auth.RoleService}, time.Hour)
	pipeline := &cloud.Pipeline{Store: redisstore.New(client, redisstore.Options{}), Source: "urn:bench"}
	sink := &countingSink{}
	if outbox {
		relay := eventoutbox.New(client, sink, eventoutbox.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); relay.Run(ctx) }()
		defer func() { cancel(); <-done }()
		pipeline.Relay = relay
	}
	fn := ingest.New(intake.NewService(intake.Parser{}, pipeline), v)
	hdr := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}
	base := time.Now().Add(-time.Hour).UnixMilli()
	b.SetBytes(int64(perRequest))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer() // building the request is the client's work
		var sb strings.Builder
		sb.WriteString("[")
		for j := 0; j < perRequest; j++ {
			if j > 0 {
				sb.WriteString(",")
			}
			n := i*perRequest + j
			ts := time.UnixMilli(base + int64(n)).UTC().Format(time.RFC3339Nano)
			fmt.Fprintf(&sb, `{"device":"dev-%d","ts":%q,"lat":%.6f,"lon":%.6f,"speed":3.2,"acc":5}`, n%devices, ts, 51.5+float64(n%997)*1e-4, -0.1+float64(n%991)*1e-4)
		}
		sb.WriteString("]")
		req := handler.Request{Method: http.MethodPost, Header: hdr, Body: []byte(sb.String())}
		req.WithContext(context.Background())
		b.StartTimer()
		resp, err := fn.Handle(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	b.StopTimer()
	if outbox {
		b.ReportMetric(float64(sink.n.Load())/float64(b.N), "delivered/op")
	}
}

// BenchmarkHTTPSingleParallel is one binary-mode CloudEvent per request
// through the HTTP kit (httpkit) over loopback HTTP, from concurrent clients.
func BenchmarkHTTPSingleParallel(b *testing.B) {
	rs := testenv.StartRedis(b)
	client, err := redisstore.Open(rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	secret := []byte("bench-secret-0123456789")
	v, _ := auth.NewVerifierWithSecret(secret, auth.Config{})
	tok, _ := auth.Sign(secret, auth.Principal{Tenant: "bench", Role: auth.RoleService}, time.Hour)
	fn := ingest.New(intake.NewService(intake.Parser{}, &cloud.Pipeline{Store: redisstore.New(client, redisstore.Options{})}), v)
	opts, _ := httpkit.OptionsFromEnv("ingest")
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(httpkit.FunctionHandler(fn, opts))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	hc := &http.Client{Transport: tr}
	var seq atomic.Int64
	base := time.Now().Add(-time.Hour).UnixMilli()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Sprintf(`{"lat":%.6f,"lon":%.6f,"ts":%q}`, 51.5+float64(n%997)*1e-4, -0.1, time.UnixMilli(base+n).UTC().Format(time.RFC3339Nano))
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Ce-Specversion", "1.0")
			req.Header.Set("Ce-Id", strconv.FormatInt(n, 10))
			req.Header.Set("Ce-Source", "urn:bench")
			req.Header.Set("Ce-Type", events.TypeLocationReported)
			req.Header.Set("Ce-Subject", fmt.Sprintf("dev-%d", n%1000))
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
