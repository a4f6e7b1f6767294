package httpkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
)

// Error is a failure that knows its HTTP answer: the status and, for bad
// input, the field at fault. It is the one error type of the pack that
// carries a status; FromError maps it, and also maps the domain errors that
// must not know HTTP (fix.FieldError is 400, auth.ErrUnauthenticated 401,
// auth.ErrForbidden 403, a dependency outage 503 with Retry-After).
type Error struct {
	Status int    // HTTP status code
	Field  string // the input at fault ("" when none): body, lat, [2].data, ...
	Msg    string // what is wrong; Err's text when empty
	Err    error  // the cause, if any
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up), e.g. with a rate limit's 429.
	RetryAfter time.Duration
	// Hold and CloseConnection apply to a refusal of Options.Admit only.
	// Hold is how long the runtime keeps the answer back, on a timer (no
	// CPU), before sending it: a tarpit, so a client that ignores 429
	// waits instead of spending the server's CPU on refusals.
	Hold time.Duration
	// CloseConnection answers with "Connection: close" (a refusal past
	// the tarpit's bound: the client must reconnect before its next try).
	CloseConnection bool
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Field == "" {
		return msg
	}
	return e.Field + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid is a 400 naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// WithStatus tags err with an HTTP status.
func WithStatus(status int, err error) error { return &Error{Status: status, Err: err} }

// BadInput marks a decoder's failure as the client's fault: an error that
// already maps to a 4xx keeps it, anything else becomes a 400.
func BadInput(err error) error {
	if err == nil {
		return nil
	}
	if s := StatusOf(err); s >= 400 && s < 500 {
		return err
	}
	return &Error{Status: http.StatusBadRequest, Err: err}
}

// StatusOf is the HTTP status err maps to; see FromError.
func StatusOf(err error) int { return classify(err).status }

// answer is how an error is answered: status, the message of the body and
// the headers that go with the status.
type answer struct {
	status     int
	msg        string
	retryAfter int // seconds; 0: no Retry-After
}

// classify is the one mapping of errors to HTTP: the outermost *Error keeps
// its status; a dependency outage (dependency.Unavailable) is a 503 naming
// the service ("redis unavailable: ...") with Retry-After, which producers,
// Knative delivery and the OpenFaaS queue worker retry; a fix.FieldError is
// 400; an auth failure 401 or 403; anything else is a bug, 500 (still
// retryable: Knative retries 5xx, never 4xx).
func classify(err error) answer {
	var e *Error
	if errors.As(err, &e) {
		a := answer{status: e.Status, msg: e.Error()}
		if e.RetryAfter > 0 {
			a.retryAfter = int((e.RetryAfter + time.Second - 1) / time.Second)
		}
		return a
	}
	if de, ok := dependency.As(err); ok {
		return answer{status: http.StatusServiceUnavailable, msg: de.Error(), retryAfter: dependency.RetryAfterSeconds}
	}
	var fe *fix.FieldError
	if errors.As(err, &fe) {
		return answer{status: http.StatusBadRequest, msg: fe.Error()}
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return answer{status: http.StatusUnauthorized, msg: err.Error()}
	case errors.Is(err, auth.ErrForbidden):
		return answer{status: http.StatusForbidden, msg: err.Error()}
	}
	return answer{status: http.StatusInternalServerError, msg: err.Error()}
}

// setHeaders adds the headers a's status calls for: the challenge of a 401,
// Retry-After of an outage.
func (a answer) setHeaders(h http.Header) {
	if a.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="geotrack"`)
	}
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
}

// FromError is the one place an error becomes a response: the uniform
// {"error": msg} body with the status classify finds, and the headers that
// go with it (a 401's challenge, an outage's Retry-After).
func FromError(err error) handler.Response {
	a := classify(err)
	r := ErrorResponse(a.status, a.msg)
	a.setHeaders(r.Header)
	return r
}

// Respond finishes a function's Handle: resp when err is nil, else err's
// response (FromError). It does not log: the kit logs every request once,
// in its access line, with the error's message and at the level its status
// calls for (a client's mistake at info, a failure on our side at error),
// so the request's context is not needed here.
func Respond(_ context.Context, resp handler.Response, err error) handler.Response {
	if err == nil {
		return resp
	}
	return FromError(err)
}
