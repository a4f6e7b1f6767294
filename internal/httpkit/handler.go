package httpkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/clip"
)

// statusClientClosed is nginx's code for "the client went away first"; it
// only appears in metrics and logs, the client never sees it.
const statusClientClosed = 499

// maxCEID bounds the logged ce-id header.
const maxCEID = 128

type functionHandler struct {
	fn       handler.FunctionHandler
	opts     Options
	log      *slog.Logger // opts.Logger with the function's name
	metrics  *httpMetrics
	inflight atomic.Int64
}

// FunctionHandler adapts fn to HTTP: any path and method reach fn. See the
// package doc for what it adds; opts.Name labels metrics and logs.
func FunctionHandler(fn handler.FunctionHandler, opts Options) http.Handler {
	opts = opts.withDefaults()
	return &functionHandler{fn: fn, opts: opts, log: opts.Logger.With(slog.String("function", opts.Name)),
		metrics: newHTTPMetrics(opts.Metrics, opts.Name)}
}

// result is what the handler goroutine hands back.
type result struct {
	resp  handler.Response
	err   error
	panic any
	stack []byte
	body  func(io.Writer) error // a streamed body (Streamer), or nil
	// release frees the request's admission slot once a streamed body is
	// written; nil when already freed.
	release func()
}

func (h *functionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := callIDFrom(r.Header.Get("X-Call-Id"))
	w.Header().Set("X-Call-Id", id)
	log := h.log.With(slog.String("call_id", id))
	if ce := r.Header.Get("Ce-Id"); ce != "" {
		log = log.With(slog.String("ce_id", clip.Prefix(ce, maxCEID)))
	}
	c := &call{id: id, log: log, remote: clientAddr(r, h.opts.TrustedProxies), caller: callerSlot()}
	ctx := withCall(r.Context(), c)

	ew := &errorCapture{ResponseWriter: w}
	status, written, aborted := h.serve(ctx, ew, r, log)

	elapsed := time.Since(start)
	h.metrics.observe(r.Method, status, elapsed)
	// The access line's attributes (and the error body's decoding) only
	// when it is logged: a flood's refusals at LOG_LEVEL=warn cost nothing here.
	if level := accessLevel(r.URL.Path, status); log.Enabled(ctx, level) {
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", written),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		}
		if status >= 400 && status != statusClientClosed {
			attrs = append(attrs, slog.String("error", ew.reason()))
		}
		log.LogAttrs(ctx, level, "request", attrs...)
	}
	if aborted {
		// The status has gone out; only breaking the transfer tells the
		// client that the body is incomplete.
		panic(http.ErrAbortHandler)
	}
}

// serve runs one request and returns the status and body bytes written,
// and whether a streamed body failed after the status was sent.
func (h *functionHandler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger) (int, int, bool) {
	if n := h.inflight.Add(1); n > int64(h.opts.MaxInflight) {
		h.inflight.Add(-1)
		w.Header().Set("Retry-After", "1")
		status, n := writeError(w, http.StatusTooManyRequests,
			fmt.Sprintf("too many requests in flight (limit %d)", h.opts.MaxInflight))
		return status, n, false
	}
	admitted := func() {}
	if h.opts.Admit != nil {
		rel, err := h.opts.Admit(r)
		if err != nil {
			// A held refusal does not take one of the function's slots.
			h.inflight.Add(-1)
			status, n := refuseAdmission(w, r, err, rel)
			return status, n, false
		}
		if rel != nil {
			admitted = rel
		}
	}
	h.metrics.inflight.Inc()
	// Admission is released when the handler really returns, not when we
	// answer: a handler that outlives its timeout still holds resources.
	release := func() {
		admitted()
		h.metrics.inflight.Dec()
		h.inflight.Add(-1)
	}

	body, err := readBody(w, r, h.opts.MaxBodyBytes)
	header := r.Header
	if err == nil {
		header, body, err = decodeBody(r.Header, body, h.opts.MaxBodyBytes)
	}
	if err != nil {
		release()
		status, n := h.bodyError(w, err, log)
		return status, n, false
	}

	hctx, cancel := context.WithTimeout(ctx, h.opts.HandlerTimeout)
	// A streamed body may take longer than the handler timeout (a million
	// points to a slow client): that bounds the time to the first byte,
	// then each write must make progress within the write timeout.
	stopDeadline := func() {}
	if _, streams := h.fn.(Streamer); streams {
		hctx, cancel = context.WithCancel(ctx)
		timer := time.AfterFunc(h.opts.HandlerTimeout, cancel)
		stopDeadline = func() { timer.Stop() }
	}
	defer cancel()
	req := handler.Request{
		Body:        body,
		Header:      header,
		QueryString: r.URL.RawQuery,
		Method:      r.Method,
		Host:        r.Host,
	}
	req.WithContext(hctx)

	done := make(chan result, 1) // buffered: an abandoned handler must not block
	go func() {
		res := h.call(req)
		// Release before handing the result over, so that once the client
		// has its answer the slot is free: a client sending requests one
		// after another never sees a spurious 429. A streamed body holds
		// the slot until it is written (the client sees its end only after).
		if res.body != nil {
			res.release = release
		} else {
			release()
		}
		done <- res
	}()

	select {
	case res := <-done:
		h.audit(callFrom(ctx), r, res, time.Now())
		if res.release != nil {
			defer res.release()
		}
		if res.body != nil {
			stopDeadline()
		}
		return h.respond(w, res, log)
	case <-hctx.Done():
		go func() { // the handler may still return a stream nobody will write
			if res := <-done; res.release != nil {
				res.release()
			}
		}()
		if r.Context().Err() != nil {
			log.Info("client closed the request before the handler finished")
			return statusClientClosed, 0, false
		}
		log.Warn("handler timeout: context cancelled, handler abandoned", slog.String("timeout", h.opts.HandlerTimeout.String()))
		// The server's write deadline may equal the handler timeout; give the
		// 503 a moment of its own so the client gets an answer.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second))
		status, n := writeError(w, http.StatusServiceUnavailable, "handler timeout")
		return status, n, false
	}
}

// refuseAdmission answers a refusal of Options.Admit: after its Hold (a
// timer: the waiting costs no CPU; a client that leaves ends it), with
// "Connection: close" when asked; release, when set, is called once
// answered.
func refuseAdmission(w http.ResponseWriter, r *http.Request, err error, release func()) (int, int) {
	if release != nil {
		defer release()
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Hold > 0 {
			timer := time.NewTimer(e.Hold)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return statusClientClosed, 0
			}
		}
		if e.CloseConnection {
			w.Header().Set("Connection", "close")
		}
	}
	a := classify(err)
	a.setHeaders(w.Header())
	return writeError(w, a.status, a.msg)
}

// call runs the function, turning a panic into a result.
func (h *functionHandler) call(req handler.Request) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{panic: p, stack: debug.Stack()}
		}
	}()
	if s, ok := h.fn.(Streamer); ok {
		return callStream(s, req)
	}
	resp, err := h.fn.Handle(req)
	return result{resp: resp, err: err}
}

func (h *functionHandler) bodyError(w http.ResponseWriter, err error, log *slog.Logger) (int, int) {
	if errors.Is(err, errEncoding) {
		return writeError(w, http.StatusUnsupportedMediaType, err.Error())
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body: request body exceeds %d bytes", tooBig.Limit))
	}
	log.Info("read request body", slog.Any("error", err))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return writeError(w, http.StatusRequestTimeout, "body: read timed out")
	}
	return writeError(w, http.StatusBadRequest, "body: "+err.Error())
}

func (h *functionHandler) respond(w http.ResponseWriter, res result, log *slog.Logger) (int, int, bool) {
	switch {
	case res.panic != nil:
		log.Error("handler panicked", slog.Any("panic", res.panic), slog.String("stack", string(res.stack)))
		status, n := writeError(w, http.StatusInternalServerError, "internal error")
		return status, n, false
	case res.err != nil:
		// A function that returns its error (rather than ending with
		// Respond) gets the same mapping, FromError's; it is logged once,
		// by the access line, at the level its status calls for.
		a := classify(res.err)
		a.setHeaders(w.Header())
		status, n := writeError(w, a.status, a.msg)
		return status, n, false
	}
	status := res.resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		log.Error("handler returned an invalid status code", slog.Int("status", status))
		status, n := writeError(w, http.StatusInternalServerError, "internal error")
		return status, n, false
	}
	header := w.Header()
	for k, v := range res.resp.Header {
		header[k] = v
	}
	if res.body != nil && bodyAllowed(status) {
		n, aborted := writeStream(w, status, res, h.opts.WriteTimeout, log)
		return status, n, aborted
	}
	if bodyAllowed(status) && header.Get("Content-Length") == "" {
		header.Set("Content-Length", strconv.Itoa(len(res.resp.Body)))
	}
	w.WriteHeader(status)
	if !bodyAllowed(status) {
		return status, 0, false
	}
	n, err := w.Write(res.resp.Body)
	if err != nil {
		log.Debug("write response", slog.Any("error", err))
	}
	return status, n, false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// writeError writes the uniform {"error": msg} body.
func writeError(w http.ResponseWriter, status int, msg string) (int, int) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // a struct of one string always marshals
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	n, _ := w.Write(body) // the client went away; the status is logged anyway
	return status, n
}

// accessLevel keeps probe traffic out of info logs and logs each request
// once at the level its status calls for: a client's mistake (4xx) is info,
// a failure on our side (5xx) is an error.
func accessLevel(path string, status int) slog.Level {
	switch {
	case strings.HasPrefix(path, "/_/"):
		return slog.LevelDebug
	case status >= 500 && status != statusClientClosed:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// maxLoggedError bounds the error text kept for the access log.
const maxLoggedError = 512

// errorCapture keeps the start of an error response's body, so the access
// log can say why a request failed without every function logging it.
type errorCapture struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (c *errorCapture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *errorCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status >= 400 && len(c.body) < maxLoggedError {
		c.body = append(c.body, b[:min(len(b), maxLoggedError-len(c.body))]...)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *errorCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// reason is the message of the uniform {"error": msg} body, or the start of
// whatever else the body held.
func (c *errorCapture) reason() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(c.body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(c.body))
}
