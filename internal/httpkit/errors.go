package httpkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
)

// Error is a failure that knows its HTTP answer: the status and, for bad
// input, the field at fault. It is the one error type of the pack that
// carries a status; FromError maps it, and also maps the domain errors that
// must not know HTTP (fix.FieldError is 400, auth.ErrUnauthenticated 401,
// auth.ErrForbidden 403).
type Error struct {
	Status int    // HTTP status code
	Field  string // the input at fault ("" when none): body, lat, [2].data, ...
	Msg    string // what is wrong; Err's text when empty
	Err    error  // the cause, if any
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
func StatusOf(err error) int {
	status, _ := classify(err)
	return status
}

// classify finds the status of err and the message to send: the outermost
// *Error, else a fix.FieldError (400), else an auth failure (401, 403), else
// a retryable 500 (Knative retries 5xx, never 4xx).
func classify(err error) (int, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Status, e.Error()
	}
	var fe *fix.FieldError
	if errors.As(err, &fe) {
		return http.StatusBadRequest, fe.Error()
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// FromError is the one place an error becomes a response: the uniform
// {"error": msg} body with the status classify finds, and the challenge
// header on a 401.
func FromError(err error) handler.Response {
	status, msg := classify(err)
	r := ErrorResponse(status, msg)
	if status == http.StatusUnauthorized {
		r.Header.Set("WWW-Authenticate", `Bearer realm="geotrack"`)
	}
	return r
}

// Respond finishes a function's Handle: resp when err is nil, else err's
// response (FromError), logging the cause of a 5xx.
func Respond(ctx context.Context, resp handler.Response, err error) handler.Response {
	if err == nil {
		return resp
	}
	r := FromError(err)
	if r.StatusCode >= 500 {
		LoggerFrom(ctx).Error("request failed", "status", r.StatusCode, "err", err)
	}
	return r
}
