// Package respond builds the JSON responses every function returns, so status
// codes and error bodies look the same across the pack.
package respond

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/dependency"
)

// JSON encodes v with status.
func JSON(status int, v any) handler.Response {
	body, err := json.Marshal(v)
	if err != nil {
		return Error(http.StatusInternalServerError, "encode response: "+err.Error())
	}
	return Raw(status, "application/json", append(body, '\n'))
}

// Raw returns body with the given content type.
func Raw(status int, contentType string, body []byte) handler.Response {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	return handler.Response{StatusCode: status, Header: h, Body: body}
}

// Error is the uniform error body {"error": msg}.
func Error(status int, msg string) handler.Response {
	return JSON(status, map[string]string{"error": msg})
}

// StatusError carries the HTTP status a failure maps to.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// WithStatus tags err with an HTTP status.
func WithStatus(status int, err error) error { return &StatusError{Status: status, Err: err} }

// FromError maps err to a response: a StatusError keeps its status; a
// dependency outage (dependency.Unavailable) is 503 with Retry-After and a
// message naming the service ("redis unavailable: ..."); anything else is a
// bug, 500 (Knative retries 5xx, never 4xx).
func FromError(err error) handler.Response {
	status, msg, retryAfter := Classify(err)
	r := Error(status, msg)
	if retryAfter > 0 {
		r.Header.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	return r
}

// Classify is the one mapping of errors to HTTP: status, message and
// Retry-After seconds (0: none). The HTTP kit uses it for errors a handler
// returns, so both paths answer alike.
func Classify(err error) (status int, msg string, retryAfter int) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status, se.Error(), 0
	}
	if de, ok := dependency.As(err); ok {
		return http.StatusServiceUnavailable, de.Error(), dependency.RetryAfterSeconds
	}
	return http.StatusInternalServerError, err.Error(), 0
}
