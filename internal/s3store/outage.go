package s3store

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/geotrack/geotrack/internal/dependency"
)

// Dependency is the name an outage of the object store carries: its
// errors read "archive unavailable: ..." and answer 503 with Retry-After.
const Dependency = "archive"

// Outage marks err as the archive being unavailable when the store could
// not be reached (refused, reset, timed out, cut off mid-body) or answered
// a 5xx (500, 502, 503 SlowDown, 504); anything else (no such key,
// access denied, a corrupt object) is returned as it is. nil stays nil.
func Outage(err error) error {
	if err == nil || !isOutage(err) {
		return err
	}
	return dependency.Unavailable(Dependency, err)
}

func isOutage(err error) bool {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= http.StatusInternalServerError
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded)
}
