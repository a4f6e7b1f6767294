package httpkit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// streamingFunc streams lines lines of text, failing after failAfter
// lines when failAfter > 0; its Handle must not be called.
type streamingFunc struct {
	lines, failAfter int
	err              error // returned by HandleStream
	handled          bool
}

func (f *streamingFunc) Handle(handler.Request) (handler.Response, error) {
	f.handled = true
	return handler.Response{Body: []byte("buffered")}, nil
}

func (f *streamingFunc) HandleStream(req handler.Request) (StreamResponse, error) {
	if f.err != nil {
		return StreamResponse{}, f.err
	}
	r := Raw(http.StatusOK, "text/plain", nil)
	r.Header.Set("X-Lines", fmt.Sprint(f.lines))
	return StreamResponse{Response: r, WriteBody: func(w io.Writer) error {
		if req.Context().Err() != nil {
			return errors.New("context done before the body")
		}
		for i := range f.lines {
			if f.failAfter > 0 && i == f.failAfter {
				return errors.New("store went away")
			}
			fmt.Fprintf(w, "line %d\n", i)
		}
		return nil
	}}, nil
}

func TestStreamerIsPreferredAndStreams(t *testing.T) {
	cases := []struct {
		name       string
		fn         *streamingFunc
		status     int
		wantBody   string // prefix
		wantLen    int
		wantBroken bool
	}{
		{name: "streams a long body", fn: &streamingFunc{lines: 100000}, status: http.StatusOK, wantBody: "line 0\nline 1\n", wantLen: 100000},
		{name: "error before the body is classified", fn: &streamingFunc{err: Invalid("format", "bad")}, status: http.StatusBadRequest, wantBody: `{"error":"format: bad"}`},
		{name: "error in the body breaks the transfer", fn: &streamingFunc{lines: 100000, failAfter: 50000}, status: http.StatusOK, wantBody: "line 0\n", wantBroken: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(FunctionHandler(tc.fn, Options{Name: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, readErr := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(body), tc.wantBody) {
				t.Fatalf("status %d body %.80q", resp.StatusCode, body)
			}
			if tc.fn.handled {
				t.Fatal("Handle called on a Streamer")
			}
			if tc.wantBroken != (readErr != nil) {
				t.Fatalf("read error %v, want broken %v", readErr, tc.wantBroken)
			}
			if tc.wantLen > 0 {
				if n := strings.Count(string(body), "\n"); n != tc.wantLen || resp.Header.Get("X-Lines") != fmt.Sprint(tc.wantLen) {
					t.Fatalf("%d lines, header %q", n, resp.Header.Get("X-Lines"))
				}
				if resp.ContentLength != -1 {
					t.Fatalf("content length %d on a streamed body", resp.ContentLength)
				}
			}
		})
	}
}

// gatedStream streams one line, then waits for gate before the second.
type gatedStream struct {
	started chan struct{}
	gate    chan struct{}
}

func (g *gatedStream) Handle(handler.Request) (handler.Response, error) {
	return handler.Response{}, errors.New("Handle called on a Streamer")
}

func (g *gatedStream) HandleStream(handler.Request) (StreamResponse, error) {
	return StreamResponse{Response: Raw(http.StatusOK, "text/plain", nil), WriteBody: func(w io.Writer) error {
		fmt.Fprintln(w, "first")
		select {
		case g.started <- struct{}{}:
		default:
		}
		<-g.gate
		fmt.Fprintln(w, "second")
		return nil
	}}, nil
}

// TestStreamHoldsItsSlot: a body being streamed counts against
// MaxInflight until it is written; then the slot is free again.
func TestStreamHoldsItsSlot(t *testing.T) {
	fn := &gatedStream{started: make(chan struct{}, 1), gate: make(chan struct{})}
	srv := httptest.NewServer(FunctionHandler(fn, Options{Name: "t", MaxInflight: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	first := make(chan string, 1)
	go func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			first <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		first <- string(b)
	}()
	<-fn.started
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second request while streaming: %d, want 429", resp.StatusCode)
	}
	close(fn.gate)
	if got := <-first; got != "first\nsecond\n" {
		t.Fatalf("first body %q", got)
	}
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "first\nsecond\n" {
		t.Fatalf("after the stream: %d %q", resp.StatusCode, b)
	}
}

// slowStream writes chunks of 40 KiB every interval; its HandleStream
// first sleeps for prepare.
type slowStream struct {
	chunks            int
	interval, prepare time.Duration
}

func (s *slowStream) Handle(handler.Request) (handler.Response, error) {
	return handler.Response{}, errors.New("Handle called on a Streamer")
}

func (s *slowStream) HandleStream(req handler.Request) (StreamResponse, error) {
	select {
	case <-time.After(s.prepare):
	case <-req.Context().Done():
		return StreamResponse{}, req.Context().Err()
	}
	return StreamResponse{Response: Raw(http.StatusOK, "text/plain", nil), WriteBody: func(w io.Writer) error {
		chunk := []byte(strings.Repeat("x", 40<<10))
		for range s.chunks {
			if err := req.Context().Err(); err != nil {
				return err
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			time.Sleep(s.interval)
		}
		return nil
	}}, nil
}

// TestStreamOutlivesTheHandlerTimeout: the handler timeout bounds the time
// to the first byte; a body that keeps making progress may take longer than
// it and than the write timeout.
func TestStreamOutlivesTheHandlerTimeout(t *testing.T) {
	opts := Options{Name: "t", HandlerTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cases := []struct {
		name   string
		fn     *slowStream
		status int
		bytes  int
	}{
		{name: "slow body completes", fn: &slowStream{chunks: 12, interval: 80 * time.Millisecond}, status: http.StatusOK, bytes: 12 * 40 << 10},
		{name: "slow first byte times out", fn: &slowStream{chunks: 1, prepare: time.Second}, status: http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewUnstartedServer(FunctionHandler(tc.fn, opts))
			ts.Config.WriteTimeout = opts.WriteTimeout
			ts.Start()
			defer ts.Close()
			resp, err := http.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.bytes > 0 && (err != nil || len(body) != tc.bytes)) {
				t.Fatalf("status %d, %d bytes (%v)", resp.StatusCode, len(body), err)
			}
		})
	}
}
