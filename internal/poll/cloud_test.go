package poll

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCloudRequest: the edge's one way to pull from the cloud sends the
// token, the ETag and a JSON body, caps the reply, answers a 304 to an
// ETag as NotModified and anything but 200 as an error naming the status.
func TestCloudRequest(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.RawQuery+" "+r.Header.Get("Authorization")+" "+r.Header.Get("If-None-Match")+" "+r.Header.Get("Content-Type")+" "+string(body))
		switch r.URL.Query().Get("answer") {
		case "304":
			w.WriteHeader(http.StatusNotModified)
		case "500":
			http.Error(w, "redis down", http.StatusInternalServerError)
		default:
			w.Header().Set("ETag", `"v2"`)
			_, _ = io.WriteString(w, `{"tenant":"acme","padding":"`+strings.Repeat("x", 100)+`"}`)
		}
	}))
	defer srv.Close()
	cases := []struct {
		name     string
		req      CloudRequest
		wantSeen string
		check    func(CloudReply, error) bool
	}{
		{"200", CloudRequest{URL: srv.URL + "?answer=200", Token: "tok"}, `GET answer=200 Bearer tok   `,
			func(r CloudReply, err error) bool {
				return err == nil && !r.NotModified && r.ETag == `"v2"` && strings.HasPrefix(string(r.Body), `{"tenant"`)
			}},
		{"capped", CloudRequest{URL: srv.URL + "?answer=200", Token: "tok", MaxBytes: 10}, `GET answer=200 Bearer tok   `,
			func(r CloudReply, err error) bool { return err == nil && string(r.Body) == `{"tenant":` }},
		{"304 to an ETag", CloudRequest{URL: srv.URL + "?answer=304", Token: "tok", ETag: `"v1"`}, `GET answer=304 Bearer tok "v1"  `,
			func(r CloudReply, err error) bool {
				return err == nil && r.NotModified && r.ETag == `"v1"` && r.Body == nil
			}},
		{"304 without ETag", CloudRequest{URL: srv.URL + "?answer=304", Token: "tok"}, `GET answer=304 Bearer tok   `,
			func(r CloudReply, err error) bool { return err != nil && strings.Contains(err.Error(), "304") }},
		{"500", CloudRequest{URL: srv.URL + "?answer=500", Token: "tok"}, `GET answer=500 Bearer tok   `,
			func(r CloudReply, err error) bool {
				return err != nil && strings.Contains(err.Error(), "GET 500 Internal Server Error: redis down")
			}},
		{"POST with a body", CloudRequest{Method: http.MethodPost, URL: srv.URL + "?answer=200", Token: "tok", Body: []byte(`{"a":1}`)},
			`POST answer=200 Bearer tok  application/json {"a":1}`,
			func(r CloudReply, err error) bool { return err == nil }},
		{"bad URL", CloudRequest{URL: "http://[::1", Token: "tok"}, "",
			func(r CloudReply, err error) bool { return err != nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen = nil
			reply, err := c.req.Do(context.Background())
			if !c.check(reply, err) {
				t.Errorf("reply %+v, err %v", reply, err)
			}
			if c.wantSeen == "" && len(seen) != 0 || c.wantSeen != "" && (len(seen) != 1 || seen[0] != c.wantSeen) {
				t.Errorf("the cloud saw %q, want %q", seen, c.wantSeen)
			}
		})
	}
}
