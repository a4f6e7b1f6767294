package httpkit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// streamingFunc streams lines lines of text, failing after failAfter
// lines when failAfter > 0; its Handle must not be called.
type streamingFunc struct {
	lines, failAfter int
	err              error // returned by HandleStream
	handled          bool
}

func (f *streamingFunc) Handle(handler.Request) (handler.Response, error) {
	f.handled = true
	return handler.Response{Body: []byte("buffered")}, nil
}

func (f *streamingFunc) HandleStream(req handler.Request) (StreamResponse, error) {
	if f.err != nil {
		return StreamResponse{}, f.err
	}
	r := Raw(http.StatusOK, "text/plain", nil)
	r.Header.Set("X-Lines", fmt.Sprint(f.lines))
	return StreamResponse{Response: r, WriteBody: func(w io.Writer) error {
		if req.Context().Err() != nil {
			return errors.New("context done before the body")
		}
		for i := range f.lines {
			if f.failAfter > 0 && i == f.failAfter {
				return errors.New("store went away")
			}
			fmt.Fprintf(w, "line %d\n", i)
		}
		return nil
	}}, nil
}

func TestStreamerIsPreferredAndStreams(t *testing.T) {
	cases := []struct {
		name       string
		fn         *streamingFunc
		status     int
		wantBody   string // prefix
		wantLen    int
		wantBroken bool
	}{
		{name: "streams a long body", fn: &streamingFunc{lines: 100000}, status: http.StatusOK, wantBody: "line 0\nline 1\n", wantLen: 100000},
		{name: "error before the body is classified", fn: &streamingFunc{err: Invalid("format", "bad")}, status: http.StatusBadRequest, wantBody: `{"error":"format: bad"}`},
		{name: "error in the body breaks the transfer", fn: &streamingFunc{lines: 100000, failAfter: 50000}, status: http.StatusOK, wantBody: "line 0\n", wantBroken: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(FunctionHandler(tc.fn, Options{Name: "t", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, readErr := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(body), tc.wantBody) {
				t.Fatalf("status %d body %.80q", resp.StatusCode, body)
			}
			if tc.fn.handled {
				t.Fatal("Handle called on a Streamer")
			}
			if tc.wantBroken != (readErr != nil) {
				t.Fatalf("read error %v, want broken %v", readErr, tc.wantBroken)
			}
			if tc.wantLen > 0 {
				if n := strings.Count(string(body), "\n"); n != tc.wantLen || resp.Header.Get("X-Lines") != fmt.Sprint(tc.wantLen) {
					t.Fatalf("%d lines, header %q", n, resp.Header.Get("X-Lines"))
				}
				if resp.ContentLength != -1 {
					t.Fatalf("content length %d on a streamed body", resp.ContentLength)
				}
			}
		})
	}
}
