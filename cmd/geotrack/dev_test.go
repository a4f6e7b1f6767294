package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
)

func TestQuietRequestsDemotesSuccessfulRequestLines(t *testing.T) {
	cases := []struct {
		name   string
		level  slog.Level // of the console
		msg    string
		status int
		shown  bool
	}{
		{"success hidden at info", slog.LevelInfo, "request", 202, false},
		{"success shown with --verbose", slog.LevelDebug, "request", 202, true},
		{"client error stays visible", slog.LevelInfo, "request", 401, true},
		{"server error stays visible", slog.LevelInfo, "request", 500, true},
		{"other info lines untouched", slog.LevelInfo, "fleet", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(quietRequests{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level})}).With("function", "ingest")
			log.Info(c.msg, "status", c.status)
			if got := buf.Len() > 0; got != c.shown {
				t.Fatalf("shown = %v (%q), want %v", got, buf.String(), c.shown)
			}
			if c.shown && c.msg == "request" && c.status < 400 && !strings.Contains(buf.String(), "level=DEBUG") {
				t.Fatalf("successful request logged as %q, want level DEBUG", buf.String())
			}
		})
	}
}

// TestWelcomePrintsTheDashboardLink: make dev prints a ready login link whose
// fragment is a viewer token of tenant demo.
func TestWelcomePrintsTheDashboardLink(t *testing.T) {
	secret := []byte("welcome-test-secret-0123456789")
	var out bytes.Buffer
	printWelcome(&out, "http://127.0.0.1:8080", secret, "test")
	m := regexp.MustCompile(`http://127\.0\.0\.1:8080/function/dashboard/#token=(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no dashboard link in:\n%s", out.String())
	}
	v, err := auth.NewVerifierWithSecret(secret, auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), m[1])
	if err != nil || p.Tenant != "demo" || p.Role != auth.RoleViewer {
		t.Fatalf("the link's token: %+v, %v; want a viewer of demo", p, err)
	}
}
