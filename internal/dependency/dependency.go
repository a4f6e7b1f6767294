// Package dependency marks errors caused by a backing service being
// unavailable (Redis, MinIO, NATS), as opposed to bugs. Storage adapters wrap
// their outage errors with Unavailable; the HTTP kit answers those with 503
// and Retry-After, which producers, Knative delivery and the OpenFaaS queue
// worker treat as "try again", instead of a 500 that looks like a bug.
package dependency

import "errors"

// RetryAfterSeconds is the Retry-After sent with a dependency's 503: about
// the time a restarting Redis takes to answer again.
const RetryAfterSeconds = 2

// Error is a dependency outage: Name is the service ("redis"), Err the cause.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Name + " unavailable: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Unavailable wraps err as an outage of the service name; nil stays nil, and
// an error already marked keeps its first mark.
func Unavailable(name string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := As(err); ok {
		return err
	}
	return &Error{Name: name, Err: err}
}

// As returns the outage err wraps, if any.
func As(err error) (*Error, bool) {
	var de *Error
	if errors.As(err, &de) {
		return de, true
	}
	return nil, false
}
