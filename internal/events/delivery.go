package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

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

// BatchSender is a Sink that can also deliver several events in one request
// (CloudEvents batch mode). SendBatch makes one attempt and succeeds only
// when the receiver took all of them (2xx); a refusal of the request is
// reported as by Send (see Rejected).
type BatchSender interface {
	SendBatch(ctx context.Context, es []event.Event) error
	// MaxBatch is the most events per SendBatch; <= 1 means batch mode is
	// off and SendBatch must not be used.
	MaxBatch() int
}

// batchClient posts batch-mode requests; timeouts come from the context.
var batchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}

// MaxBatch is the configured EVENT_SINK_BATCH.
func (s *HTTPSink) MaxBatch() int { return s.batch }

// SendBatch posts es as one application/cloudevents-batch+json request: a
// JSON array of structured events, each keeping its own extensions (tenant,
// geotracksig). One attempt; the caller retries.
func (s *HTTPSink) SendBatch(ctx context.Context, es []event.Event) error {
	body, err := marshalBatch(es)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send batch to %s: %w", s.target, err)
	}
	req.Header.Set("Content-Type", MediaBatch)
	resp, err := batchClient.Do(req)
	if err != nil {
		return fmt.Errorf("send batch of %d events to %s: %w", len(es), s.target, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("send batch of %d events to %s: %w", len(es), s.target,
			cehttp.NewResult(resp.StatusCode, "%d: %s", resp.StatusCode, bytes.TrimSpace(msg)))
	}
	return nil
}

// marshalBatch encodes es as a JSON array of structured events. Each event
// encodes itself (event.Event.MarshalJSON); json.Marshal of the slice would
// then validate and compact every event's output a second time, which was a
// fifth of the relay's CPU time in batch mode.
func marshalBatch(es []event.Event) ([]byte, error) {
	body := make([]byte, 0, 512*len(es))
	body = append(body, '[')
	for i := range es {
		b, err := es[i].MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode event %s of a batch of %d: %w", es[i].ID(), len(es), err)
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	return append(body, ']'), nil
}
