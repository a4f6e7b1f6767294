// Package respond builds the JSON responses every function returns, so status
// codes and error bodies look the same across the pack.
package httpkit

import (
	"encoding/json"
	"errors"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"
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

// FromError maps err to a response: a StatusError keeps its status, anything
// else is a retryable 500 (Knative retries 5xx, never 4xx).
func FromError(err error) handler.Response {
	var se *StatusError
	if errors.As(err, &se) {
		return Error(se.Status, se.Error())
	}
	return Error(http.StatusInternalServerError, err.Error())
}
