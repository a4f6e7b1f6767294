package poll

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
)

// Defaults of a CloudRequest.
const (
	DefaultCloudTimeout  = 10 * time.Second
	DefaultCloudMaxBytes = 8 << 20
)

// CloudRequest is one request of an edge node's periodic pulls to the
// cloud (preferences, fences and rules, erasures, revocations): the
// node's service token, the copy's ETag as If-None-Match, a body read up
// to MaxBytes, anything but 200 (or 304 to an ETag) an error.
type CloudRequest struct {
	Method   string // default GET
	URL      string
	Token    string // the edge's service token (bearer)
	ETag     string // If-None-Match: the cloud answers 304 while it holds
	Body     []byte // sent as application/json when not nil
	MaxBytes int64  // how much of the reply is read (default DefaultCloudMaxBytes)
	Timeout  time.Duration
	Client   *http.Client // default one with Timeout (DefaultCloudTimeout)
}

// CloudReply is a 200 or a 304 (NotModified, no body).
type CloudReply struct {
	NotModified bool
	Body        []byte
	ETag        string
}

// Do sends the request. The error of an answer other than 200 (and 304
// to an ETag) names the method, the status and the start of the body.
func (r CloudRequest) Do(ctx context.Context) (CloudReply, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return CloudReply{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.ETag != "" {
		req.Header.Set("If-None-Match", r.ETag)
	}
	client := r.Client
	if client == nil {
		timeout := r.Timeout
		if timeout <= 0 {
			timeout = DefaultCloudTimeout
		}
		client = &http.Client{Timeout: timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return CloudReply{}, err
	}
	defer resp.Body.Close()
	limit := r.MaxBytes
	if limit <= 0 {
		limit = DefaultCloudMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return CloudReply{}, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && r.ETag != "":
		return CloudReply{NotModified: true, ETag: r.ETag}, nil
	case resp.StatusCode != http.StatusOK:
		return CloudReply{}, fmt.Errorf("%s %s: %s", method, resp.Status, clip.String(string(bytes.TrimSpace(data)), 500))
	}
	return CloudReply{Body: data, ETag: resp.Header.Get("ETag")}, nil
}
