package httpkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
)

func TestErrorText(t *testing.T) {
	cause := errors.New("stale cursor")
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"field and message", &Error{Status: 400, Field: "lat", Msg: "required"}, "lat: required"},
		{"message only", &Error{Status: 409, Msg: "conflict"}, "conflict"},
		{"cause only", &Error{Status: 400, Err: cause}, "stale cursor"},
		{"field and cause", &Error{Status: 400, Field: "cursor", Err: cause}, "cursor: stale cursor"},
		{"message wins over cause", &Error{Status: 503, Msg: "auth unavailable: x", Err: cause}, "auth unavailable: x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
	if !errors.Is(&Error{Status: 400, Err: cause}, cause) {
		t.Fatal("Error does not unwrap to its cause")
	}
}

func TestFromError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		msg    string
		retry  string // Retry-After
	}{
		{"plain error is 500", errors.New("redis: connection refused"), http.StatusInternalServerError, "redis: connection refused", ""},
		{"wrapped plain error keeps its context", fmt.Errorf("read history: %w", errors.New("timeout")), http.StatusInternalServerError, "read history: timeout", ""},
		{"dependency outage is 503 naming the service", fmt.Errorf("save: %w", dependency.Unavailable("redis", errors.New("LOADING Redis is loading the dataset in memory"))),
			http.StatusServiceUnavailable, "redis unavailable: LOADING Redis is loading the dataset in memory", "2"},
		{"status over outage", WithStatus(http.StatusBadRequest, dependency.Unavailable("redis", errors.New("x"))), http.StatusBadRequest, "redis unavailable: x", ""},
		{"status kept", WithStatus(http.StatusConflict, errors.New("stale")), http.StatusConflict, "stale", ""},
		{"wrapped status", fmt.Errorf("store: %w", WithStatus(http.StatusBadRequest, errors.New("bad tenant"))), http.StatusBadRequest, "bad tenant", ""},
		{"nested statuses: outermost wins", WithStatus(http.StatusForbidden, WithStatus(http.StatusNotFound, errors.New("x"))), http.StatusForbidden, "x", ""},
		{"5xx status kept", WithStatus(http.StatusServiceUnavailable, errors.New("busy")), http.StatusServiceUnavailable, "busy", ""},
		{"field error of the kit", Invalid("radius", "must be more than 0 metres"), http.StatusBadRequest, "radius: must be more than 0 metres", ""},
		{"413 with field", &Error{Status: http.StatusRequestEntityTooLarge, Field: "body", Msg: "too many"}, http.StatusRequestEntityTooLarge, "body: too many", ""},
		{"domain field error is 400", &fix.FieldError{Field: "lon", Msg: "out of range"}, http.StatusBadRequest, "lon: out of range", ""},
		{"wrapped domain field error", fmt.Errorf("decode: %w", &fix.FieldError{Field: "ts", Msg: "required"}), http.StatusBadRequest, "ts: required", ""},
		{"unauthenticated is 401", fmt.Errorf("%w: token expired", auth.ErrUnauthenticated), http.StatusUnauthorized, "unauthenticated: token expired", ""},
		{"forbidden is 403", fmt.Errorf("%w: role viewer", auth.ErrForbidden), http.StatusForbidden, "forbidden: role viewer", ""},
		{"status over forbidden", WithStatus(http.StatusServiceUnavailable, auth.ErrForbidden), http.StatusServiceUnavailable, "forbidden", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := FromError(tc.err)
			want := fmt.Sprintf(`{"error":%q}`+"\n", tc.msg)
			if r.StatusCode != tc.status || string(r.Body) != want {
				t.Fatalf("got %d %q, want %d %q", r.StatusCode, r.Body, tc.status, want)
			}
			if s := StatusOf(tc.err); s != tc.status {
				t.Fatalf("StatusOf = %d, want %d", s, tc.status)
			}
			challenge := r.Header.Get("WWW-Authenticate")
			if (tc.status == http.StatusUnauthorized) != (challenge != "") {
				t.Fatalf("status %d with WWW-Authenticate %q", tc.status, challenge)
			}
			if got := r.Header.Get("Retry-After"); got != tc.retry {
				t.Fatalf("Retry-After %q, want %q", got, tc.retry)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"plain decode error becomes 400", errors.New("unexpected EOF"), http.StatusBadRequest},
		{"field error stays 400", &fix.FieldError{Field: "lat", Msg: "required"}, http.StatusBadRequest},
		{"415 kept", &Error{Status: http.StatusUnsupportedMediaType, Field: "content-type", Msg: "x"}, http.StatusUnsupportedMediaType},
		{"413 kept", &Error{Status: http.StatusRequestEntityTooLarge, Field: "body", Msg: "x"}, http.StatusRequestEntityTooLarge},
		{"a 5xx is not the client's fault: 400", WithStatus(http.StatusServiceUnavailable, errors.New("x")), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := BadInput(tc.err)
			if s := StatusOf(err); s != tc.status {
				t.Fatalf("status %d, want %d", s, tc.status)
			}
			if err.Error() != tc.err.Error() {
				t.Fatalf("message %q changed to %q", tc.err, err)
			}
		})
	}
	if BadInput(nil) != nil {
		t.Fatal("BadInput(nil) is not nil")
	}
}

func TestRespond(t *testing.T) {
	ok := JSON(http.StatusOK, map[string]int{"n": 1})
	if r := Respond(context.Background(), ok, nil); r.StatusCode != http.StatusOK || string(r.Body) != string(ok.Body) {
		t.Fatalf("success changed: %d %q", r.StatusCode, r.Body)
	}
	if r := Respond(context.Background(), ok, Invalid("device", "required")); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("error not mapped: %d %q", r.StatusCode, r.Body)
	}
}
