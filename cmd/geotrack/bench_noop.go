package main

// This file: the HTTP ceiling of bench ingest, a no-op net/http handler in
// its own process, driven by the same load generator as ingest.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func init() {
	registerBench(command{name: "noop-http", summary: "(used by bench ingest) serve a no-op handler on 127.0.0.1:$PORT: reads the body, answers 202", run: runNoopHTTP})
}

// noopReply is what the no-op handler answers: the sender counts one
// accepted fix per request (the ceiling is measured with one fix per request).
var noopReply = []byte(`{"accepted":1}`)

func runNoopHTTP(ctx context.Context, _ []string) error {
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("bench noop-http: PORT is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(noopReply)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("bench noop-http: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bench noop-http: %w", err)
	}
	return nil
}
