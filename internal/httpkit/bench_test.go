package httpkit

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/metrics"
)

// BenchmarkFunctionHandler measures what the adapter adds around a trivial
// function: call id, logger, body read, goroutine, metrics, access log.
func BenchmarkFunctionHandler(b *testing.B) {
	body := []byte(`{"device":"d1","ts":"2026-11-25T10:00:00Z","lat":47.37,"lon":8.54}`)
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		return handler.Response{StatusCode: http.StatusAccepted, Body: r.Body[:2]}, nil
	})
	cases := []struct {
		name  string
		level slog.Level
	}{
		{"access-log", slog.LevelInfo},
		{"no-access-log", slog.LevelWarn},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := FunctionHandler(fn, Options{
				Name:    "bench",
				Metrics: metrics.NewRegistry(),
				Logger:  slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: c.level})),
			})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusAccepted {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkBaseline is the same request served by a bare handler, to read
// BenchmarkFunctionHandler against.
func BenchmarkBaseline(b *testing.B) {
	body := []byte(`{"device":"d1","ts":"2026-11-25T10:00:00Z","lat":47.37,"lon":8.54}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(data[:2])
	})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
