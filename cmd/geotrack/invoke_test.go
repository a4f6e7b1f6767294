package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvoke: `geotrack invoke` is how a CronJob runs the archiver: one POST
// of {} with the bearer token (flag, file or $GEOTRACK_TOKEN), and a
// non-zero exit (an error) on any non-2xx answer.
func TestInvoke(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "schedule-token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		env       string
		args      []string
		status    int
		wantAuth  string
		wantError string
	}{
		{name: "token from env", env: "from-env", status: http.StatusOK, wantAuth: "Bearer from-env"},
		{name: "token flag wins over env", env: "from-env", args: []string{"--token", "from-flag"}, status: http.StatusOK, wantAuth: "Bearer from-flag"},
		{name: "token file wins", env: "from-env", args: []string{"--token-file", tokenFile}, status: http.StatusOK, wantAuth: "Bearer from-file"},
		{name: "no token", status: http.StatusUnauthorized, wantAuth: "", wantError: "401"},
		{name: "pass already running", env: "t", status: http.StatusConflict, wantAuth: "Bearer t", wantError: "409"},
		{name: "server error", env: "t", status: http.StatusInternalServerError, wantAuth: "Bearer t", wantError: "500"},
		{name: "missing token file", args: []string{"--token-file", filepath.Join(t.TempDir(), "absent")}, wantError: "--token-file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got struct {
				method, auth, body string
				calls              int
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.method, got.auth, got.body = r.Method, r.Header.Get("Authorization"), string(b)
				got.calls++
				w.WriteHeader(c.status)
			}))
			defer srv.Close()
			t.Setenv("GEOTRACK_TOKEN", c.env)
			err := runInvoke(context.Background(), append([]string{srv.URL + "/"}, c.args...))
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("err %v, want one naming %q", err, c.wantError)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if c.status == 0 {
				if got.calls != 0 {
					t.Errorf("%d requests sent after a configuration error", got.calls)
				}
				return
			}
			if got.calls != 1 || got.method != http.MethodPost || got.body != "{}" || got.auth != c.wantAuth {
				t.Errorf("calls %d, %s body %q Authorization %q; want one POST {} with %q", got.calls, got.method, got.body, got.auth, c.wantAuth)
			}
		})
	}
	if err := runInvoke(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "give one URL") {
		t.Errorf("no URL: err %v", err)
	}
}
