// Package webhook delivers alerts to rules' webhooks: Standard Webhooks
// signatures, an HTTP client that refuses private addresses at dial time,
// the classification of answers (delivered, retry, dead letter), and the
// dispatcher that drains the durable queue in order per rule and device.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/clip"
)

// Header names of Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// MaxResponseBytes is how much of a receiver's answer is read.
const MaxResponseBytes = 4 << 10

// Sign is the Standard Webhooks signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>", keyed by the base64-decoded part of a whsec_ secret.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := alert.SecretKey(secret)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Verify checks a request's Standard Webhooks headers against secret: one
// of the space-separated v1 signatures matches and the timestamp is within
// tolerance of now. Receivers (and the tests) use it.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: not unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp %d is %v away from now", sec, d)
	}
	want, err := Sign(secret, id, sec, body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no matching v1 signature")
}

// ErrForbiddenAddress is a dial refused by the SSRF guard.
var ErrForbiddenAddress = errors.New("webhook address is loopback, private, link-local or metadata")

// NewClient is the HTTP client of deliveries: no proxy (it would dial for
// us), no redirects, and unless allowPrivate a dialer that refuses
// forbidden addresses on the address actually dialled, after DNS, so a
// name that resolves (or later rebinds) to one is refused.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			ip := net.ParseIP(host)
			if ip == nil || alert.Forbidden(ip) {
				return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Verdict is what to do after one delivery attempt.
type Verdict int

const (
	Delivered Verdict = iota // 2xx
	Retry                    // timeout, network error, 5xx, 408, 429
	Dead                     // any other answer, a refused address, a bad request
)

func (v Verdict) String() string {
	return [...]string{"delivered", "retry", "dead"}[v]
}

// Attempt is the outcome of one delivery.
type Attempt struct {
	Verdict    Verdict
	Status     int           // HTTP status, 0 when none
	RetryAfter time.Duration // from a 429 or 503 Retry-After, 0 when none
	Err        string        // why it failed
}

// Post delivers one alert: body (the structured CloudEvent) to url, signed
// with secret under the alert's id.
func Post(ctx context.Context, client *http.Client, url, secret, id string, body []byte, now time.Time) Attempt {
	sig, err := Sign(secret, id, now.Unix(), body)
	if err != nil {
		return Attempt{Verdict: Dead, Err: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return Attempt{Verdict: Dead, Err: fmt.Sprintf("request: %v", err)}
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", "geotrack-notify")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbiddenAddress) {
			return Attempt{Verdict: Dead, Err: clip.String(err.Error(), 300)}
		}
		return Attempt{Verdict: Retry, Err: clip.String(err.Error(), 300)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	return Classify(resp.StatusCode, resp.Header.Get("Retry-After"), snippet, now)
}

// Classify maps an answer to a verdict.
func Classify(status int, retryAfter string, body []byte, now time.Time) Attempt {
	a := Attempt{Status: status}
	switch {
	case status >= 200 && status < 300:
		a.Verdict = Delivered
		return a
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		a.Verdict = Retry
		a.RetryAfter = parseRetryAfter(retryAfter, now)
	default:
		a.Verdict = Dead
	}
	a.Err = fmt.Sprintf("HTTP %d %s", status, strings.TrimSpace(clip.String(string(body), 200)))
	return a
}

// parseRetryAfter reads delay-seconds or an HTTP date; at most a day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 24*time.Hour)
}
