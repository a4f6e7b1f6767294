package events

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cecontext "github.com/cloudevents/sdk-go/v2/context"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// Sink publishes events a function emits.
type Sink interface {
	Send(ctx context.Context, e event.Event) error
	Close() error
}

// SinkConfig selects the sink: EVENT_SINK (nats://… or http(s)://…) wins,
// else K_SINK (injected by a Knative SinkBinding), else events are dropped
// with a debug log.
type SinkConfig struct {
	EventSink string `envconfig:"EVENT_SINK"`
	KSink     string `envconfig:"K_SINK"`
	// EventSinkBatch > 1 lets the event relay post up to that many events in
	// one request in CloudEvents batch mode, to an http(s) sink that accepts
	// it (geotrack's own functions do; Knative brokers do not). Default off.
	EventSinkBatch int `envconfig:"EVENT_SINK_BATCH"`
	// EventSinkTLSCAFile, when set, is the PEM CA bundle the sink trusts for
	// tls:// (NATS) and https:// instead of the system roots.
	EventSinkTLSCAFile string `envconfig:"EVENT_SINK_TLS_CA_FILE"`
	OutboxConfig
}

// OutboxConfig tunes the event outbox and its relay (internal/eventoutbox)
// of the functions that emit through it; unused without a sink.
type OutboxConfig struct {
	// OutboxMaxLen caps each tenant's outbox in events; a request that would
	// exceed it is refused with 503.
	OutboxMaxLen int64 `envconfig:"EVENT_OUTBOX_MAX_LEN" default:"1000000"`
	// RelayInterval is how often the in-process relay polls the outboxes
	// besides being woken by each request that queued events.
	RelayInterval time.Duration `envconfig:"EVENT_RELAY_INTERVAL" default:"1s"`
	// RelayDisabled runs no relay in the process: events are queued and
	// `geotrack relay` (e.g. a CronJob) delivers them.
	RelayDisabled   bool          `envconfig:"EVENT_RELAY_DISABLED"`
	RelayTimeout    time.Duration `envconfig:"EVENT_RELAY_TIMEOUT" default:"5s"`      // per delivery
	RelayMaxBackoff time.Duration `envconfig:"EVENT_RELAY_MAX_BACKOFF" default:"30s"` // between failed passes
	// RelayParallelShared is how many location events of several devices
	// the relay sends at once when they share no device (eventoutbox
	// Config.ParallelShared; 0: its default, 2; 1: one at a time).
	RelayParallelShared int `envconfig:"EVENT_RELAY_PARALLEL_SHARED"`
}

// NewSink builds the configured sink.
func NewSink(cfg SinkConfig) (Sink, error) {
	target := cfg.EventSink
	if target == "" {
		target = cfg.KSink
	}
	if target == "" {
		return discard{}, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("event sink %q: %w", target, err)
	}
	switch u.Scheme {
	case "nats", "tls":
		var opts []nats.Option
		if cfg.EventSinkTLSCAFile != "" {
			opts = append(opts, nats.RootCAs(cfg.EventSinkTLSCAFile))
		}
		return NewNATSSink(target, opts...)
	case "http", "https":
		var s *HTTPSink
		if cfg.EventSinkTLSCAFile != "" {
			s, err = newHTTPSinkTrusting(target, cfg.EventSinkTLSCAFile)
		} else {
			s, err = NewHTTPSink(target)
		}
		if err != nil {
			return nil, err
		}
		if cfg.EventSinkBatch > MaxBatchEvents {
			return nil, fmt.Errorf("EVENT_SINK_BATCH %d: the limit is %d", cfg.EventSinkBatch, MaxBatchEvents)
		}
		s.batch = cfg.EventSinkBatch
		return s, nil
	}
	return nil, fmt.Errorf("event sink %q: scheme must be http, https or nats", target)
}

type discard struct{}

// Enabled reports whether s sends anywhere, so that an emitter with no sink
// configured skips building events it would only drop.
func Enabled(s Sink) bool {
	if s == nil {
		return false
	}
	_, drops := s.(discard)
	return !drops
}

func (discard) Send(ctx context.Context, e event.Event) error {
	slog.DebugContext(ctx, "no event sink configured; event not sent", "type", e.Type(), "id", e.ID())
	return nil
}
func (discard) Close() error { return nil }

// HTTPSink posts events in binary mode to a URL, retrying with exponential
// backoff, as Knative's SinkBinding convention expects.
type HTTPSink struct {
	client cloudevents.Client
	target string
	batch  int // most events per batch-mode request; <= 1: none
}

// newHTTPSinkTrusting is NewHTTPSink trusting the CAs of caFile only.
func newHTTPSinkTrusting(target, caFile string) (*HTTPSink, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("EVENT_SINK_TLS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("EVENT_SINK_TLS_CA_FILE %s: no PEM certificate", caFile)
	}
	rt := http.DefaultTransport.(*http.Transport).Clone()
	rt.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(target), cloudevents.WithRoundTripper(rt))
	if err != nil {
		return nil, fmt.Errorf("event sink %s: %w", target, err)
	}
	return &HTTPSink{client: c, target: target}, nil
}

// NewHTTPSink sends to target.
func NewHTTPSink(target string) (*HTTPSink, error) {
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(target))
	if err != nil {
		return nil, fmt.Errorf("event sink %s: %w", target, err)
	}
	return &HTTPSink{client: c, target: target}, nil
}

// Send delivers e, retrying transient failures (5 tries, from 200 ms)
// unless ctx comes from SendOnce.
func (s *HTTPSink) Send(ctx context.Context, e event.Event) error {
	if !sendOnce(ctx) {
		ctx = cecontext.WithRetriesExponentialBackoff(ctx, 200*time.Millisecond, 5)
	}
	if res := s.client.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("send %s to %s: %w", e.Type(), s.target, res)
	}
	return nil
}

// Close releases nothing: the HTTP client has no persistent state to flush.
func (s *HTTPSink) Close() error { return nil }

// NATSSink publishes structured-mode JSON on a subject named after the event
// type, which is what the OpenFaaS NATS connector matches against a
// function's topic annotation.
type NATSSink struct {
	conn *nats.Conn
}

// NewNATSSink connects to a NATS server URL (nats://host:4222, or
// tls://host:4222 over TLS); extra options (e.g. nats.RootCAs) are added.
func NewNATSSink(target string, extra ...nats.Option) (*NATSSink, error) {
	// No reconnect buffer: while the server is away Publish fails at once
	// instead of queueing in memory, so the relay keeps the events in its
	// durable outbox and retries them.
	opts := append([]nats.Option{nats.Name("geotrack"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1)}, extra...)
	conn, err := nats.Connect(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("event sink %s: %w", target, err)
	}
	return &NATSSink{conn: conn}, nil
}

// Send publishes e on the subject e.Type().
func (s *NATSSink) Send(ctx context.Context, e event.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s: %w", e.Type(), err)
	}
	if err := s.conn.Publish(e.Type(), body); err != nil {
		return fmt.Errorf("publish %s: %w", e.Type(), err)
	}
	return nil
}

// Close flushes pending messages and disconnects.
func (s *NATSSink) Close() error {
	if err := s.conn.Drain(); err != nil && !strings.Contains(err.Error(), "closed") {
		return err
	}
	return nil
}

// New builds an event of type with JSON data, propagating traceparent (the
// CloudEvents distributed-tracing extension) from the event that caused it.
// data may be a json.RawMessage that is already encoded.
func New(source, eventType, subject, traceParent string, data any) (event.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource(source)
	e.SetType(eventType)
	e.SetTime(time.Now().UTC())
	if subject != "" {
		e.SetSubject(subject)
	}
	if traceParent != "" {
		e.SetExtension("traceparent", traceParent)
	}
	if raw, ok := data.(json.RawMessage); ok {
		// Already-encoded JSON: used as is (SetData would mark []byte as
		// base64 data, and re-encoding would cost a second pass).
		e.SetDataContentType(cloudevents.ApplicationJSON)
		e.DataEncoded, e.DataBase64 = raw, false
		return e, nil
	}
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("encode %s data: %w", eventType, err)
	}
	return e, nil
}
