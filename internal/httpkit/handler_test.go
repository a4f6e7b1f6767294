package httpkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/metrics"
)

// unknownLength hides the length of a reader so the client sends the body
// chunked, as a streaming client would.
type unknownLength struct{ io.Reader }

func TestRequestAdaptation(t *testing.T) {
	var got handler.Request
	var hadDeadline bool
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		got = r
		_, hadDeadline = r.Context().Deadline()
		return handler.Response{
			StatusCode: http.StatusCreated,
			Header:     http.Header{"Content-Type": {"application/geo+json"}, "X-Extra": {"a", "b"}},
			Body:       []byte(`{"ok":true}`),
		}, nil
	})
	f := start(t, fn, Options{})
	r := f.do(t, http.MethodPut, "/any/path?device=d1&x=%20y", strings.NewReader("payload"), map[string]string{"X-Test": "1"})

	if r.status != http.StatusCreated || r.body != `{"ok":true}` {
		t.Fatalf("reply = %d %q", r.status, r.body)
	}
	if r.header.Get("Content-Type") != "application/geo+json" || strings.Join(r.header.Values("X-Extra"), ",") != "a,b" {
		t.Errorf("response headers not copied: %v", r.header)
	}
	checks := []struct{ name, got, want string }{
		{"method", got.Method, http.MethodPut},
		{"query", got.QueryString, "device=d1&x=%20y"},
		{"body", string(got.Body), "payload"},
		{"header", got.Header.Get("X-Test"), "1"},
		{"host", got.Host, strings.TrimPrefix(f.srv.URL, "http://")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !hadDeadline {
		t.Error("handler context has no deadline")
	}
}

func TestResponseStatus(t *testing.T) {
	tests := []struct {
		name       string
		resp       handler.Response
		wantStatus int
		wantBody   string
	}{
		{"zero status is 200", handler.Response{Body: []byte("hi")}, 200, "hi"},
		{"explicit status", handler.Response{StatusCode: 422, Body: []byte("bad")}, 422, "bad"},
		{"no content", handler.Response{StatusCode: 204}, 204, ""},
		{"empty body", handler.Response{StatusCode: 202}, 202, ""},
		{"invalid status", handler.Response{StatusCode: 42}, 500, `{"error":"internal error"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, handlerFunc(func(handler.Request) (handler.Response, error) { return tt.resp, nil }), Options{})
			r := f.do(t, http.MethodGet, "/", nil, nil)
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				t.Fatalf("reply = %d %q, want %d %q", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 16
	echoLen := handlerFunc(func(r handler.Request) (handler.Response, error) {
		return handler.Response{Body: []byte(fmt.Sprint(len(r.Body)))}, nil
	})
	tests := []struct {
		name    string
		body    func() io.Reader
		status  int
		wantLen string
	}{
		{"empty", func() io.Reader { return nil }, 200, "0"},
		{"at limit, known length", func() io.Reader { return strings.NewReader(strings.Repeat("a", limit)) }, 200, "16"},
		{"at limit, chunked", func() io.Reader { return unknownLength{strings.NewReader(strings.Repeat("a", limit))} }, 200, "16"},
		{"over limit, known length", func() io.Reader { return strings.NewReader(strings.Repeat("a", limit+1)) }, 413, ""},
		{"over limit, chunked", func() io.Reader { return unknownLength{strings.NewReader(strings.Repeat("a", limit+1))} }, 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, echoLen, Options{MaxBodyBytes: limit})
			r := f.do(t, http.MethodPost, "/", tt.body(), nil)
			if tt.status == 413 {
				wantJSONError(t, r, 413, "body: request body exceeds 16 bytes")
				return
			}
			if r.status != tt.status || r.body != tt.wantLen {
				t.Fatalf("reply = %d %q, want %d %q", r.status, r.body, tt.status, tt.wantLen)
			}
		})
	}
}

// TestBodyLimitDefault checks the exact message at the default 1 MiB limit,
// in process: over a socket the server may reset the connection while the
// client is still sending the surplus.
func TestBodyLimitDefault(t *testing.T) {
	called := false
	h := FunctionHandler(handlerFunc(func(handler.Request) (handler.Response, error) {
		called = true
		return handler.Response{}, nil
	}), Options{Name: "f", Metrics: metrics.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	for _, chunked := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, DefaultMaxBodyBytes+1)))
		if chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		r := reply{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
		wantJSONError(t, r, 413, "body: request body exceeds 1048576 bytes")
		if r.body != `{"error":"body: request body exceeds 1048576 bytes"}`+"\n" {
			t.Errorf("body = %q", r.body)
		}
	}
	if called {
		t.Error("handler ran for an oversized body")
	}
}

func TestReadBodyBuffersAtMostLimitPlusOne(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name    string
		size    int
		declare bool // send Content-Length
		wantErr bool
	}{
		{"small unknown", 10, false, false},
		{"exact unknown", limit, false, false},
		{"over unknown", limit + 500, false, true},
		{"exact declared", limit, true, false},
		{"declared over", limit + 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", unknownLength{bytes.NewReader(make([]byte, tt.size))})
			req.ContentLength = -1
			if tt.declare {
				req.ContentLength = int64(tt.size)
			}
			buf, err := readBody(httptest.NewRecorder(), req, limit)
			var tooBig *http.MaxBytesError
			if tt.wantErr {
				if !errors.As(err, &tooBig) || tooBig.Limit != limit {
					t.Fatalf("err = %v, want *http.MaxBytesError with limit %d", err, limit)
				}
				return
			}
			if err != nil || len(buf) != tt.size {
				t.Fatalf("got %d bytes, err %v; want %d", len(buf), err, tt.size)
			}
			if cap(buf) > limit+1 {
				t.Fatalf("buffer capacity %d exceeds limit+1", cap(buf))
			}
		})
	}
}

func TestMaxInflight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		if r.QueryString == "block" {
			entered <- struct{}{}
			<-release
		}
		return handler.Response{Body: []byte("done")}, nil
	})
	f := start(t, fn, Options{MaxInflight: 2})

	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.srv.Client().Get(f.srv.URL + "/?block")
			if err != nil {
				t.Errorf("blocked request: %v", err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	<-entered
	<-entered // both slots are taken now

	r := f.do(t, http.MethodGet, "/", nil, nil)
	wantJSONError(t, r, 429, "too many requests in flight (limit 2)")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if g := f.scrape(t)[`geotrack_http_inflight{function="testfn"}`]; g != 2 {
		t.Errorf("inflight gauge = %v while two handlers block, want 2", g)
	}

	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("blocked request finished with %d, want 200", s)
		}
	}
	if r := f.do(t, http.MethodGet, "/", nil, nil); r.status != 200 {
		t.Fatalf("after release: status %d, want 200", r.status)
	}
}

// TestSequentialRequestsNeverRejected: a slot is free again by the time the
// client has its answer, so one-at-a-time clients never get 429.
func TestSequentialRequestsNeverRejected(t *testing.T) {
	f := start(t, ok("x"), Options{MaxInflight: 1})
	for i := range 200 {
		if r := f.do(t, http.MethodGet, "/", nil, nil); r.status != 200 {
			t.Fatalf("request %d: status %d %q", i, r.status, r.body)
		}
		if g := f.scrape(t)[`geotrack_http_inflight{function="testfn"}`]; g != 0 {
			t.Fatalf("request %d: inflight gauge = %v after the answer, want 0", i, g)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		if r.QueryString == "panic" {
			panic("kaboom")
		}
		return handler.Response{Body: []byte("still here")}, nil
	})
	f := start(t, fn, Options{})
	for range 3 {
		wantJSONError(t, f.do(t, http.MethodPost, "/?panic", nil, nil), 500, "internal error")
	}
	if r := f.do(t, http.MethodGet, "/", nil, nil); r.status != 200 || r.body != "still here" {
		t.Fatalf("after panics: %d %q", r.status, r.body)
	}
	logged := f.logs.find(t, "handler panicked")
	if len(logged) != 3 {
		t.Fatalf("%d panic log lines, want 3", len(logged))
	}
	if logged[0]["panic"] != "kaboom" || !strings.Contains(fmt.Sprint(logged[0]["stack"]), "goroutine") {
		t.Errorf("panic log lacks value or stack: %v", logged[0])
	}
	if logged[0]["level"] != "ERROR" || logged[0]["call_id"] == "" {
		t.Errorf("panic log: %v", logged[0])
	}
}

// TestHandlerError: an error a handler returns is mapped once, by the kit,
// as FromError maps it: an outage of a dependency is a retryable 503, a
// status error keeps its status, a 401 carries the challenge, anything else
// is a 500. The request is logged once, by the access line, with the
// reason: at info for a client's mistake, at error for a failure on our
// side; nothing else logs it.
func TestHandlerError(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		msg        string
		retryAfter string
		challenge  bool
		level      string
	}{
		{"bug is 500", fmt.Errorf("store fix: %w", errors.New("bad reply")), 500, "store fix: bad reply", "", false, "ERROR"},
		{"outage is 503", fmt.Errorf("store fix: %w", dependency.Unavailable("redis", errors.New("connection refused"))),
			503, "redis unavailable: connection refused", "2", false, "ERROR"},
		{"retryable status kept", WithStatus(503, errors.New("busy")), 503, "busy", "", false, "ERROR"},
		{"client mistake keeps its status", WithStatus(http.StatusForbidden, errors.New("forbidden: role viewer may not ingest")),
			403, "forbidden: role viewer may not ingest", "", false, "INFO"},
		{"kit error keeps its status", Invalid("lat", "required"), 400, "lat: required", "", false, "INFO"},
		{"wrapped kit error", fmt.Errorf("decode: %w", &Error{Status: 413, Field: "body", Msg: "too many"}), 413, "body: too many", "", false, "INFO"},
		{"unauthenticated", fmt.Errorf("%w: token expired", auth.ErrUnauthenticated), 401, "unauthenticated: token expired", "", true, "INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := handlerFunc(func(handler.Request) (handler.Response, error) { return handler.Response{}, tc.err })
			f := start(t, fn, Options{})
			r := f.do(t, http.MethodPost, "/", nil, nil)
			wantJSONError(t, r, tc.status, tc.msg)
			if got := r.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := r.header.Get("WWW-Authenticate") != ""; got != tc.challenge {
				t.Errorf("WWW-Authenticate present %v, want %v", got, tc.challenge)
			}
			logged := f.logs.find(t, "request")
			if len(logged) != 1 || logged[0]["error"] != tc.msg || logged[0]["level"] != tc.level {
				t.Fatalf("access log = %v, want one line at %s with error %q", logged, tc.level, tc.msg)
			}
			for _, rec := range f.logs.records(t) {
				if rec["msg"] != "request" && rec["level"] != "DEBUG" && rec["level"] != "INFO" {
					t.Errorf("the failure was logged again: %v", rec)
				}
			}
		})
	}
}

func TestHandlerTimeout(t *testing.T) {
	t.Run("context is cancelled", func(t *testing.T) {
		ctxErr := make(chan error, 1)
		fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
			<-r.Context().Done()
			ctxErr <- r.Context().Err()
			return handler.Response{Body: []byte("too late")}, nil
		})
		f := start(t, fn, Options{HandlerTimeout: 20 * time.Millisecond})
		wantJSONError(t, f.do(t, http.MethodGet, "/", nil, nil), 503, "handler timeout")
		if err := <-ctxErr; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("handler context error = %v, want deadline exceeded", err)
		}
	})
	t.Run("handler ignoring its context", func(t *testing.T) {
		unblock := make(chan struct{})
		fn := handlerFunc(func(handler.Request) (handler.Response, error) {
			<-unblock
			return handler.Response{}, nil
		})
		f := start(t, fn, Options{HandlerTimeout: 20 * time.Millisecond})
		wantJSONError(t, f.do(t, http.MethodGet, "/", nil, nil), 503, "handler timeout")
		close(unblock)
		if n := len(f.logs.find(t, "handler timeout: context cancelled, handler abandoned")); n != 1 {
			t.Fatalf("%d timeout log lines, want 1", n)
		}
	})
}

func TestClientGoneCancelsHandlerContext(t *testing.T) {
	entered := make(chan struct{})
	ctxErr := make(chan error, 1)
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		close(entered)
		<-r.Context().Done()
		ctxErr <- r.Context().Err()
		return handler.Response{}, nil
	})
	f := start(t, fn, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/", nil)
	go func() {
		<-entered
		cancel()
	}()
	if _, err := f.srv.Client().Do(req); err == nil {
		t.Fatal("request succeeded although the client cancelled it")
	}
	if err := <-ctxErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context error = %v, want context.Canceled", err)
	}
}

func TestCallID(t *testing.T) {
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		header   string
		wantSame bool
	}{
		{"echoed", "6f1c3a7e-9b2d-4c1e-8f00-1234567890ab", true},
		{"generated when missing", "", false},
		{"generated when unsafe", "id with spaces", false},
		{"generated when too long", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan string, 1)
			fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
				seen <- CallID(r.Context())
				return handler.Response{}, nil
			})
			f := start(t, fn, Options{})
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["X-Call-Id"] = tt.header
			}
			r := f.do(t, http.MethodGet, "/", nil, hdr)
			got := r.header.Get("X-Call-Id")
			if inCtx := <-seen; inCtx != got {
				t.Errorf("CallID(ctx) = %q, response header %q", inCtx, got)
			}
			if tt.wantSame && got != tt.header {
				t.Fatalf("X-Call-Id = %q, want the caller's %q", got, tt.header)
			}
			if !tt.wantSame && !hexID.MatchString(got) {
				t.Fatalf("X-Call-Id = %q, want 32 generated hex digits", got)
			}
		})
	}
}

func TestRequestLogger(t *testing.T) {
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		ctx := WithLogAttrs(r.Context(), "device", "d1")
		LoggerFrom(ctx).Info("fix stored")
		return handler.Response{Body: []byte("12345")}, nil
	})
	f := start(t, fn, Options{Name: "ingest"})
	f.do(t, http.MethodPost, "/fixes", strings.NewReader("{}"), map[string]string{"X-Call-Id": "call-1", "Ce-Id": "evt-9"})

	stored := f.logs.find(t, "fix stored")
	if len(stored) != 1 {
		t.Fatalf("%d 'fix stored' lines, want 1", len(stored))
	}
	for k, want := range map[string]string{"function": "ingest", "call_id": "call-1", "ce_id": "evt-9", "device": "d1"} {
		if stored[0][k] != want {
			t.Errorf("handler log %s = %v, want %q", k, stored[0][k], want)
		}
	}
	access := f.logs.find(t, "request")
	if len(access) != 1 {
		t.Fatalf("%d access lines, want 1", len(access))
	}
	a := access[0]
	if a["level"] != "INFO" || a["method"] != "POST" || a["path"] != "/fixes" || a["status"] != 200.0 || a["bytes"] != 5.0 || a["call_id"] != "call-1" {
		t.Errorf("access line = %v", a)
	}
	if d, ok := a["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", a["duration_ms"])
	}
}

func TestAccessLogLevel(t *testing.T) {
	f := start(t, ok("x"), Options{})
	f.do(t, http.MethodGet, "/_/custom", nil, nil) // reaches the function, but is a /_/ path
	f.do(t, http.MethodGet, PathHealth, nil, nil)
	f.do(t, http.MethodGet, "/work", nil, nil)
	levels := map[string]string{}
	for _, r := range f.logs.find(t, "request") {
		levels[r["path"].(string)] = r["level"].(string)
	}
	want := map[string]string{"/_/custom": "DEBUG", PathHealth: "DEBUG", "/work": "INFO"}
	for p, l := range want {
		if levels[p] != l {
			t.Errorf("access log level for %s = %q, want %q", p, levels[p], l)
		}
	}
}

func TestContextHelpersOutsideRequest(t *testing.T) {
	ctx := context.Background()
	if CallID(ctx) != "" {
		t.Error("CallID outside a request should be empty")
	}
	if LoggerFrom(ctx) != slog.Default() {
		t.Error("LoggerFrom outside a request should be slog.Default()")
	}
	if LoggerFrom(WithLogAttrs(ctx, "k", "v")) == nil {
		t.Error("WithLogAttrs outside a request returned no logger")
	}
	if LoggerFrom(nil) != slog.Default() { //nolint:staticcheck // handler.Request.Context() is nil without WithContext
		t.Error("LoggerFrom(nil) should be slog.Default()")
	}
}

func TestGzipBodies(t *testing.T) {
	var seen []byte
	var seenEnc string
	fn := handlerFunc(func(req handler.Request) (handler.Response, error) {
		seen, seenEnc = req.Body, req.Header.Get("Content-Encoding")
		return handler.Response{StatusCode: http.StatusOK}, nil
	})
	opts := Options{MaxBodyBytes: 64}
	h := FunctionHandler(fn, opts)
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	cases := []struct {
		name, enc string
		body      []byte
		status    int
		want      string
	}{
		{"gzip decoded", "gzip", gz(`{"lat":1}`), 200, `{"lat":1}`},
		{"identity", "identity", []byte("plain"), 200, "plain"},
		{"bomb over the limit", "gzip", gz(strings.Repeat("a", 65)), 413, ""},
		{"not gzip", "gzip", []byte("nope"), 400, ""},
		{"brotli", "br", []byte("x"), 415, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tc.body))
			req.Header.Set("Content-Encoding", tc.enc)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 && (string(seen) != tc.want || seenEnc == "gzip") {
				t.Fatalf("function saw %q with Content-Encoding %q", seen, seenEnc)
			}
		})
	}
}

// TestAdmitRefusesBeforeTheBodyIsRead: an admission error is the answer
// (status, Retry-After) and the handler never runs; an admitted request's
// release runs once the handler has returned.
func TestAdmitRefusesBeforeTheBodyIsRead(t *testing.T) {
	var handled, released atomic.Int64
	fn := handlerFunc(func(r handler.Request) (handler.Response, error) {
		handled.Add(1)
		if released.Load() != 0 {
			t.Error("released before the handler returned")
		}
		return handler.Response{Body: []byte("done")}, nil
	})
	admit := func(r *http.Request) (func(), error) {
		if r.URL.Query().Get("tenant") == "flood" {
			return nil, &Error{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Msg: "tenant flood has 1 requests in progress"}
		}
		return func() { released.Add(1) }, nil
	}
	f := start(t, fn, Options{Admit: admit})

	r := f.do(t, http.MethodPost, "/?tenant=flood", strings.NewReader(`{"a":1}`), nil)
	wantJSONError(t, r, 429, "tenant flood has 1 requests in progress")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}
	if handled.Load() != 0 {
		t.Fatal("the handler ran for a refused request")
	}
	if g := f.scrape(t)[`geotrack_http_inflight{function="testfn"}`]; g != 0 {
		t.Errorf("inflight gauge = %v after a refusal, want 0", g)
	}
	if r := f.do(t, http.MethodPost, "/?tenant=quiet", strings.NewReader(`{"a":1}`), nil); r.status != 200 {
		t.Fatalf("admitted request: status %d %q", r.status, r.body)
	}
	if handled.Load() != 1 || released.Load() != 1 {
		t.Fatalf("handled %d, released %d; want 1 and 1", handled.Load(), released.Load())
	}
}

// TestAdmitRefusalHeldInTheTarpit: an admission refusal with Hold is
// answered only after it (same 429, Retry-After), with Connection: close
// when asked; a client that leaves ends the hold without an answer; the
// release runs once answered; a held refusal takes no MAX_INFLIGHT slot.
func TestAdmitRefusalHeldInTheTarpit(t *testing.T) {
	const hold = 50 * time.Millisecond
	cases := []struct {
		name        string
		refusal     *Error
		leaveAfter  time.Duration // the client cancels its request (0: stays)
		wantStatus  int
		wantClose   bool
		wantAtLeast time.Duration
	}{
		{"held, then answered", &Error{Status: 429, RetryAfter: time.Second, Msg: "slow down", Hold: hold}, 0, 429, false, hold},
		{"at once, closing", &Error{Status: 429, RetryAfter: time.Second, Msg: "slow down", CloseConnection: true}, 0, 429, true, 0},
		{"client leaves while held", &Error{Status: 429, RetryAfter: time.Second, Msg: "slow down", Hold: time.Hour}, 20 * time.Millisecond, 0, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var released, handled atomic.Int64
			fn := handlerFunc(func(handler.Request) (handler.Response, error) {
				handled.Add(1)
				return handler.Response{}, nil
			})
			admit := func(*http.Request) (func(), error) { return func() { released.Add(1) }, c.refusal }
			h := FunctionHandler(fn, Options{Name: "testfn", Admit: admit, Metrics: metrics.NewRegistry(),
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.leaveAfter > 0 {
				time.AfterFunc(c.leaveAfter, cancel)
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(`{}`))
			rec := httptest.NewRecorder()
			began := time.Now()
			h.ServeHTTP(rec, req)
			took := time.Since(began)
			if c.wantStatus == 0 {
				if rec.Body.Len() != 0 || rec.Header().Get("Retry-After") != "" {
					t.Fatalf("client gone: answered %d %q", rec.Code, rec.Body)
				}
			} else {
				if rec.Code != c.wantStatus || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "slow down") {
					t.Fatalf("answer %d %q Retry-After %q, want %d slow down, Retry-After 1", rec.Code, rec.Body, rec.Header().Get("Retry-After"), c.wantStatus)
				}
				if took < c.wantAtLeast {
					t.Fatalf("answered after %s, before the hold of %s", took, c.wantAtLeast)
				}
			}
			if got := rec.Header().Get("Connection") == "close"; got != c.wantClose {
				t.Fatalf("Connection: close %v, want %v", got, c.wantClose)
			}
			if released.Load() != 1 || handled.Load() != 0 {
				t.Fatalf("released %d, handled %d; want 1 and 0", released.Load(), handled.Load())
			}
		})
	}

	t.Run("a held refusal takes no MAX_INFLIGHT slot", func(t *testing.T) {
		fn := handlerFunc(func(handler.Request) (handler.Response, error) { return handler.Response{Body: []byte("ok")}, nil })
		holding := make(chan struct{})
		admit := func(r *http.Request) (func(), error) {
			if r.URL.Query().Get("tenant") == "flood" {
				close(holding)
				return func() {}, &Error{Status: 429, Msg: "flood", Hold: time.Hour}
			}
			return nil, nil
		}
		h := FunctionHandler(fn, Options{Name: "testfn", Admit: admit, MaxInflight: 1, Metrics: metrics.NewRegistry(),
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, "/?tenant=flood", nil))
		}()
		<-holding
		time.Sleep(20 * time.Millisecond) // from admission to its hold: a few instructions
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/?tenant=quiet", nil))
		cancel()
		<-done
		if rec.Code != http.StatusOK {
			t.Fatalf("quiet request while flood is held: %d %q, want 200", rec.Code, rec.Body)
		}
	})
}
