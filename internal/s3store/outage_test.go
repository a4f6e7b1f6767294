package s3store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/geotrack/geotrack/internal/dependency"
)

func TestOutage(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:9000/b", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	cases := []struct {
		name   string
		err    error
		outage bool
	}{
		{"connection refused", fmt.Errorf("list s3://b/p: %w", refused), true},
		{"reset", fmt.Errorf("get: %w", syscall.ECONNRESET), true},
		{"body cut off", fmt.Errorf("get: %w", io.ErrUnexpectedEOF), true},
		{"503 SlowDown", fmt.Errorf("put: %w", minio.ErrorResponse{StatusCode: 503, Code: "SlowDown"}), true},
		{"500 InternalError", minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}, true},
		{"access denied", fmt.Errorf("get: %w", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}), false},
		{"no such bucket", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchBucket"}, false},
		{"corrupt object", errors.New("archive object k: not a parquet file"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Outage(c.err)
			de, marked := dependency.As(got)
			if marked != c.outage {
				t.Fatalf("Outage(%v) marked %v, want %v", c.err, marked, c.outage)
			}
			if !errors.Is(got, c.err) {
				t.Fatalf("Outage lost the cause: %v", got)
			}
			if marked && de.Name != Dependency {
				t.Fatalf("marked as %q, want %q", de.Name, Dependency)
			}
		})
	}
	if Outage(nil) != nil {
		t.Fatal("Outage(nil) is not nil")
	}
}
