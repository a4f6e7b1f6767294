package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
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
