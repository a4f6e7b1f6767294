package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
)

// maxBodyRead bounds how much of a response is read (kept for dead letters
// and logs).
const maxBodyRead = 4096

// maxRetryAfter caps a server's Retry-After, guarding against absurd values.
const maxRetryAfter = time.Hour

// RetryableError is a failed delivery worth retrying later: 5xx, 408, 425,
// 429, 401/403/404 (configuration the operator can fix: the batch itself is
// fine), a network error, or Redis being unavailable. Nothing was lost or
// acked.
type RetryableError struct {
	Status     int           // HTTP status, 0 when there was no response
	RetryAfter time.Duration // from the Retry-After header, 0 when absent
	Err        error
}

func (e *RetryableError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("forward: cloud answered %d (retryable): %v", e.Status, e.Err)
	}
	return fmt.Sprintf("forward: retryable: %v", e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// verdict is what a response means for the batch.
type verdict int

const (
	delivered verdict = iota // 2xx: ack
	rejected                 // the cloud refuses this content: isolate, dead-letter
	retry                    // try again later, keep everything
)

// response is the outcome of one POST.
type response struct {
	verdict    verdict
	status     int
	body       string
	retryAfter time.Duration
	err        error // set for retry
}

// classify maps a status to a verdict. 401/403/404/405 are retried, not
// dead-lettered: they mean a wrong token or URL, and dead-lettering would
// drain the whole outbox into the dead-letter stream over a typo.
func classify(status int) verdict {
	switch {
	case status >= 200 && status < 300:
		return delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests,
		status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return retry
	case status >= 400 && status < 500:
		return rejected
	default: // 5xx, and 1xx/3xx which a correct ingest never sends
		return retry
	}
}

// post sends one event (or an alert report) to target and classifies the
// answer.
func (f *Forwarder) post(ctx context.Context, target, contentType, id string, body []byte) response {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.HTTPTimeout)
	defer cancel()
	encoding := ""
	if f.cfg.Gzip && len(body) >= gzipMinBytes {
		body, encoding = gzipBytes(body), "gzip"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return response{verdict: retry, err: fmt.Errorf("build request for %s: %w", id, err)}
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.Header.Set("Authorization", "Bearer "+f.cfg.Token)
	req.Header.Set("traceparent", newTraceparent())
	resp, err := f.cfg.HTTPClient.Do(req)
	if err != nil {
		return response{verdict: retry, err: fmt.Errorf("post %s: %w", id, err)}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := response{
		verdict: classify(resp.StatusCode),
		status:  resp.StatusCode,
		body:    strings.TrimSpace(string(data)),
	}
	if r.verdict == retry {
		r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		r.err = fmt.Errorf("post %s: %s: %s", id, resp.Status, clip.String(r.body, 200))
	}
	return r
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// newTraceparent starts a W3C trace for the batch, so the cloud's logs of
// one forward can be correlated.
func newTraceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// gzipMinBytes: below about one packet, compressing gains nothing.
const gzipMinBytes = 1400

// gzipBytes compresses a batch: the edge's uplink is the scarce resource,
// and a JSON batch of fixes shrinks several times.
func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	_, _ = zw.Write(b) // writes to a bytes.Buffer cannot fail
	_ = zw.Close()
	return out.Bytes()
}
