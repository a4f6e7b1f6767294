package httpkit

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// Streamer is implemented by a function that can write a long body as it
// produces it (a history export of a million points) instead of building
// it in memory: FunctionHandler calls HandleStream rather than Handle when
// the function has it. Handle stays, for the OpenFaaS go-http template,
// which buffers the body.
type Streamer interface {
	HandleStream(req handler.Request) (StreamResponse, error)
}

// StreamResponse is a response whose body WriteBody writes after the
// status and headers have been sent. WriteBody nil sends Response.Body as
// for Handle (an error answer, a short body).
//
// The handler timeout bounds HandleStream (the time to the first byte);
// WriteBody then runs as long as it makes progress: each write must go out
// within the write timeout, and the request's context ends when the client
// goes away. Once WriteBody has started the status is sent: an error it
// returns aborts the response, so the client sees a broken transfer (no
// final chunk), never a short body that looks complete.
type StreamResponse struct {
	handler.Response
	WriteBody func(w io.Writer) error
}

// streamBuffer is the write buffer between a streamed body and the
// connection.
const streamBuffer = 32 << 10

// callStream runs the function's HandleStream.
func callStream(s Streamer, req handler.Request) result {
	sr, err := s.HandleStream(req)
	return result{resp: sr.Response, err: err, body: sr.WriteBody}
}

// writeStream sends the headers of res and its streamed body; aborted is
// true when the body failed after the status was sent.
func writeStream(w http.ResponseWriter, status int, res result, writeTimeout time.Duration, log *slog.Logger) (n int, aborted bool) {
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	cw := &countingWriter{w: w, rc: http.NewResponseController(w), timeout: writeTimeout}
	bw := bufio.NewWriterSize(cw, streamBuffer)
	err := writeBody(res.body, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		log.Warn("streamed response aborted", slog.Any("error", err), slog.Int("bytes", cw.n))
		return cw.n, true
	}
	return cw.n, false
}

// writeBody runs body, turning a panic into an error: the status is sent,
// so the answer can only be to abort.
func writeBody(body func(io.Writer) error, w io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while streaming: %v", p)
		}
	}()
	return body(w)
}

// countingWriter counts what reaches the client and gives each write its
// own deadline.
type countingWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	n       int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout)) // unsupported by a test recorder: then the server's applies
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}
