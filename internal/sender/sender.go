// Package sender posts fixes to geotrack's ingest function as CloudEvents,
// batched, concurrently and with retries. It is the client behind the
// simulate, replay, import and bench commands.
package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Mode is how fixes are wrapped into CloudEvents on the wire.
type Mode string

const (
	// ModeBatch sends one application/cloudevents-batch+json request per
	// batch holding one event per fix, so each fix deduplicates on its own.
	ModeBatch Mode = "batch"
	// ModeStructured sends one structured event whose data is the batch.
	ModeStructured Mode = "structured"
	// ModeBinary sends one binary-mode event (ce-* headers) whose body is the
	// batch, or the single fix when the batch has one.
	ModeBinary Mode = "binary"
)

// Defaults for the zero values of Sender.
const (
	DefaultBatchSize   = 500
	DefaultSource      = "urn:geotrack:cli"
	DefaultMaxAttempts = 6 // the first try plus five retries
	DefaultBackoff     = 200 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultTimeout     = 60 * time.Second
)

// Sender posts fixes to an ingest URL. The zero value of every field but URL
// takes a default; a Sender is safe for concurrent use once configured.
type Sender struct {
	URL   string // ingest endpoint, e.g. http://127.0.0.1:8080/function/ingest
	Token string // bearer JWT; empty sends no Authorization header
	// Source is the CloudEvents source; with the event ids it is the dedup
	// key, so keep it stable across resends of the same data.
	Source string
	// BatchSize is the number of fixes per request (default 500, at most
	// fix.MaxBatch).
	BatchSize int
	Mode      Mode // default ModeBatch
	// Concurrency is the number of requests in flight in Send (default 1).
	Concurrency int
	// HTTPClient defaults to a client with a pooled transport sized for
	// Concurrency.
	HTTPClient *http.Client
	// MaxAttempts bounds tries per request on 5xx, 429 and network errors
	// (default 6); Backoff and MaxBackoff bound the backoff.Policy between
	// tries (defaults 200ms and 5s).
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration

	once   sync.Once
	client *http.Client
}

// Totals counts what ingest reported for the fixes sent.
type Totals struct {
	Accepted   int
	Duplicates int
	// TooOld counts valid fixes ingest did not keep because they are older
	// than its hot history retention (its reply's "too_old"; 0 when absent).
	TooOld   int
	Rejected int
	// RejectedSamples holds the first few rejection messages, for display.
	RejectedSamples []string
}

// maxSamples bounds Totals.RejectedSamples.
const maxSamples = 10

// Add sums o into t.
func (t *Totals) Add(o Totals) {
	t.Accepted += o.Accepted
	t.Duplicates += o.Duplicates
	t.TooOld += o.TooOld
	t.Rejected += o.Rejected
	for _, s := range o.RejectedSamples {
		if len(t.RejectedSamples) >= maxSamples {
			break
		}
		t.RejectedSamples = append(t.RejectedSamples, s)
	}
}

// Sent is the number of fixes ingest answered for.
func (t Totals) Sent() int { return t.Accepted + t.Duplicates + t.TooOld + t.Rejected }

func (s *Sender) batchSize() int {
	switch {
	case s.BatchSize <= 0:
		return DefaultBatchSize
	case s.BatchSize > fix.MaxBatch:
		return fix.MaxBatch
	}
	return s.BatchSize
}

func (s *Sender) concurrency() int {
	if s.Concurrency <= 0 {
		return 1
	}
	return s.Concurrency
}

func (s *Sender) mode() Mode {
	if s.Mode == "" {
		return ModeBatch
	}
	return s.Mode
}

func (s *Sender) source() string {
	if s.Source == "" {
		return DefaultSource
	}
	return s.Source
}

func (s *Sender) httpClient() *http.Client {
	s.once.Do(func() {
		if s.HTTPClient != nil {
			s.client = s.HTTPClient
			return
		}
		s.client = &http.Client{Timeout: DefaultTimeout, Transport: NewTransport(s.concurrency())}
	})
	return s.client
}

// NewTransport returns a transport that keeps enough idle connections for
// conns concurrent requests to one host; the default keeps only two, so a
// busy client would reconnect on almost every request.
func NewTransport(conns int) *http.Transport {
	if conns < 2 {
		conns = 2
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns * 2,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: DefaultTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Validate reports configuration mistakes before anything is sent.
func (s *Sender) Validate() error {
	if s.URL == "" {
		return errors.New("sender: URL is required")
	}
	switch s.mode() {
	case ModeBatch, ModeStructured, ModeBinary:
	default:
		return fmt.Errorf("sender: mode %q is not batch, structured or binary", s.Mode)
	}
	return nil
}

// Send posts fixes in batches of BatchSize with up to Concurrency requests in
// flight. progress, if not nil, is called (never concurrently) after each
// batch with the fixes answered so far and len(fixes). The first request that
// fails for good (a 4xx other than per-fix rejections, or retries exhausted)
// stops the others; the totals of the batches answered until then are
// returned with the error.
func (s *Sender) Send(ctx context.Context, fixes []fix.Fix, progress func(sent, total int)) (Totals, error) {
	if err := s.Validate(); err != nil {
		return Totals{}, err
	}
	size := s.batchSize()
	var batches [][]fix.Fix
	for start := 0; start < len(fixes); start += size {
		batches = append(batches, fixes[start:min(start+size, len(fixes))])
	}
	workers := min(s.concurrency(), len(batches))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan []fix.Fix)
	var (
		mu     sync.Mutex
		totals Totals
		sent   int
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for batch := range jobs {
				t, err := s.Post(ctx, batch)
				if err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				totals.Add(t)
				sent += len(batch)
				if progress != nil {
					progress(sent, len(fixes))
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, b := range batches {
		select {
		case jobs <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return totals, err
	}
	return totals, nil
}
