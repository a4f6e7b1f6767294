package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/backoff"
	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// StatusError is a final (not retried) answer from ingest.
type StatusError struct {
	Code int
	Msg  string // the server's error message, or the start of its body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ingest answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Msg)
}

// summary is ingest's reply body.
type summary struct {
	Accepted   *int `json:"accepted"`
	Duplicates int  `json:"duplicates"`
	TooOld     int  `json:"too_old"`
	Rejected   []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
	Error string `json:"error"`
}

// Post sends fixes as one request (no batching beyond what it is given),
// retrying 5xx, 429 and network errors after backoff.Policy delays (at
// least Retry-After, at most 30 s of it). A 413 is
// answered by splitting the request in halves, since the server's body
// limit is not known in advance.
func (s *Sender) Post(ctx context.Context, fixes []fix.Fix) (Totals, error) {
	if len(fixes) == 0 {
		return Totals{}, nil
	}
	req, err := encode(s.mode(), s.source(), fixes)
	if err != nil {
		return Totals{}, err
	}
	t, err := s.postWithRetry(ctx, req)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusRequestEntityTooLarge && len(fixes) > 1 {
		half := len(fixes) / 2
		first, err := s.Post(ctx, fixes[:half])
		if err != nil {
			return first, err
		}
		second, err := s.Post(ctx, fixes[half:])
		first.Add(second)
		return first, err
	}
	return t, err
}

func (s *Sender) postWithRetry(ctx context.Context, req encoded) (Totals, error) {
	attempts := s.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	policy := backoff.Policy{Min: s.Backoff, Max: s.MaxBackoff}
	if policy.Min <= 0 {
		policy.Min = DefaultBackoff
	}
	if policy.Max <= 0 {
		policy.Max = DefaultMaxBackoff
	}
	var last error
	for attempt := 1; ; attempt++ {
		t, retryAfter, err := s.postOnce(ctx, req)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return Totals{}, fmt.Errorf("post %d fixes: %w", req.fixes, context.Cause(ctx))
		}
		var se *StatusError
		if errors.As(err, &se) && !retryable(se.Code) {
			return Totals{}, err
		}
		last = err
		if attempt >= attempts {
			return Totals{}, fmt.Errorf("post %d fixes: giving up after %d attempts: %w", req.fixes, attempt, last)
		}
		wait := policy.Delay(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, 30*time.Second)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Totals{}, fmt.Errorf("post %d fixes: %w (last error: %v)", req.fixes, context.Cause(ctx), last)
		case <-timer.C:
		}
	}
}

func retryable(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// postOnce does one HTTP exchange. A 400 whose body is an ingest summary
// means every fix was rejected individually: that is an answer (counted in
// Totals), not a failed request.
func (s *Sender) postOnce(ctx context.Context, enc encoded) (Totals, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(enc.body))
	if err != nil {
		return Totals{}, 0, fmt.Errorf("post: %w", err)
	}
	for k, v := range enc.header {
		req.Header[k] = v
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return Totals{}, 0, fmt.Errorf("post %d fixes to %s: %w", enc.fixes, s.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Totals{}, 0, fmt.Errorf("read ingest reply: %w", err)
	}
	var sum summary
	parsed := json.Unmarshal(body, &sum) == nil
	if resp.StatusCode/100 == 2 || (resp.StatusCode == http.StatusBadRequest && parsed && sum.Accepted != nil) {
		if !parsed || sum.Accepted == nil {
			return Totals{}, 0, &StatusError{Code: resp.StatusCode, Msg: "reply is not an ingest summary: " + snippet(body)}
		}
		t := Totals{Accepted: *sum.Accepted, Duplicates: sum.Duplicates, TooOld: sum.TooOld, Rejected: len(sum.Rejected)}
		for _, r := range sum.Rejected {
			if len(t.RejectedSamples) >= maxSamples {
				break
			}
			t.RejectedSamples = append(t.RejectedSamples, fmt.Sprintf("%s: %s", enc.describe(r.Index), r.Error))
		}
		return t, 0, nil
	}
	msg := sum.Error
	if !parsed || msg == "" {
		msg = snippet(body)
	}
	return Totals{}, retryAfter(resp.Header.Get("Retry-After")), &StatusError{Code: resp.StatusCode, Msg: msg}
}

func retryAfter(v string) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

func snippet(body []byte) string {
	s := clip.String(strings.TrimSpace(string(body)), 300)
	if s == "" {
		return "(empty body)"
	}
	return s
}
