package httpkit

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"

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
// WriteBody runs within the handler's deadline (its context is the
// request's) and the server's write timeout. Once it has started the
// status is sent: an error it returns aborts the response, so the client
// sees a broken transfer (no final chunk), never a short body that looks
// complete.
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
func writeStream(w http.ResponseWriter, status int, res result, log *slog.Logger) (n int, aborted bool) {
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	cw := &countingWriter{w: w}
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

type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}
