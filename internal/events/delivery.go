package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Flusher is a Sink that buffers: Send only queues, and Flush returns once
// the receiver has everything sent before it (for core NATS: the server
// processed it). A relay flushes before it forgets what it sent.
type Flusher interface {
	Flush(ctx context.Context) error
}

type sendOnceKey struct{}

// SendOnce marks ctx so that a Sink makes a single attempt: for a caller
// that retries with its own backoff (the event relay), the sink's retries
// would only hold it longer on a dead sink.
func SendOnce(ctx context.Context) context.Context {
	return context.WithValue(ctx, sendOnceKey{}, true)
}

func sendOnce(ctx context.Context) bool {
	once, _ := ctx.Value(sendOnceKey{}).(bool)
	return once
}

// Flush waits until the server has processed every message published before.
func (s *NATSSink) Flush(ctx context.Context) error {
	if err := s.conn.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush to NATS: %w", err)
	}
	return nil
}

// Rejected reports whether a Send error is the receiver refusing the event
// itself (HTTP 400, 413, 415, 422), which no retry will change, with its
// status. Everything else (network, 5xx, 404 of a broker not yet ready, 429,
// auth) may heal and is worth retrying.
func Rejected(err error) (status int, permanent bool) {
	var rr *cehttp.RetriesResult
	if errors.As(err, &rr) {
		err = rr.Result
	}
	var hr *cehttp.Result
	if !errors.As(err, &hr) {
		return 0, false
	}
	switch hr.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return hr.StatusCode, true
	}
	return hr.StatusCode, false
}
