package httpkit

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(Options) bool
		wantErr string
	}{
		{"defaults", nil, func(o Options) bool {
			return o.Name == "ingest" && o.Addr == ":8080" && o.MaxBodyBytes == 1<<20 &&
				o.ReadTimeout == 10*time.Second && o.WriteTimeout == 10*time.Second &&
				o.HandlerTimeout == 10*time.Second && o.ShutdownTimeout == 10*time.Second &&
				o.ShutdownDelay == 5*time.Second && o.MaxInflight == 256 && o.Logger != nil && o.Metrics != nil && o.Ready == nil
		}, ""},
		{"all set", map[string]string{
			"PORT": "8082", "MAX_BODY_BYTES": "2048", "READ_TIMEOUT": "3s", "WRITE_TIMEOUT": "4s",
			"EXEC_TIMEOUT": "2500ms", "SHUTDOWN_TIMEOUT": "20s", "SHUTDOWN_DELAY": "0s", "MAX_INFLIGHT": "7",
			"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text",
		}, func(o Options) bool {
			return o.Addr == ":8082" && o.MaxBodyBytes == 2048 && o.ReadTimeout == 3*time.Second &&
				o.WriteTimeout == 4*time.Second && o.HandlerTimeout == 2500*time.Millisecond &&
				o.ShutdownTimeout == 20*time.Second && o.ShutdownDelay == 0 && o.MaxInflight == 7
		}, ""},
		{"bad port", map[string]string{"PORT": "http"}, nil, "PORT"},
		{"port range", map[string]string{"PORT": "70000"}, nil, "PORT 70000"},
		{"bad duration", map[string]string{"EXEC_TIMEOUT": "10"}, nil, "EXEC_TIMEOUT"},
		{"zero inflight", map[string]string{"MAX_INFLIGHT": "0"}, nil, "MAX_INFLIGHT must be positive"},
		{"negative body", map[string]string{"MAX_BODY_BYTES": "-1"}, nil, "MAX_BODY_BYTES must be positive"},
		{"negative delay", map[string]string{"SHUTDOWN_DELAY": "-1s"}, nil, "SHUTDOWN_DELAY must not be negative"},
		{"bad level", map[string]string{"LOG_LEVEL": "verbose"}, nil, "LOG_LEVEL"},
		{"bad format", map[string]string{"LOG_FORMAT": "xml"}, nil, "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range EnvVars() {
				// t.Setenv restores the old value afterwards; Unsetenv then
				// removes it for the test (envconfig treats "" as set).
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := OptionsFromEnv("ingest")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(o) {
				t.Fatalf("options = %+v", o)
			}
		})
	}
}

func TestEnvVars(t *testing.T) {
	want := []string{"PORT", "MAX_BODY_BYTES", "READ_TIMEOUT", "WRITE_TIMEOUT", "EXEC_TIMEOUT",
		"SHUTDOWN_TIMEOUT", "SHUTDOWN_DELAY", "MAX_INFLIGHT", "LOG_LEVEL", "LOG_FORMAT",
		"TLS_CERT_FILE", "TLS_KEY_FILE", "TRUSTED_PROXIES"}
	if got := EnvVars(); !slices.Equal(got, want) {
		t.Fatalf("EnvVars() = %v, want %v", got, want)
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level, format string
		debugShown    bool
		json          bool
		wantErr       bool
	}{
		{"debug", "json", true, true, false},
		{"info", "JSON", false, true, false},
		{"warn", "text", false, false, false},
		{"error", "", false, true, false},
		{"trace", "json", false, false, true},
		{"info", "yaml", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := NewLogger(&buf, tt.level, tt.format)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("d")
			if shown := buf.Len() > 0; shown != tt.debugShown {
				t.Fatalf("debug line shown = %v, want %v", shown, tt.debugShown)
			}
			buf.Reset()
			l.Error("e", "k", "v", "wait", 10*time.Second)
			if isJSON := json.Valid(buf.Bytes()); isJSON != tt.json {
				t.Fatalf("output %q: JSON = %v, want %v", buf.String(), isJSON, tt.json)
			}
			if !strings.Contains(buf.String(), `wait=10s`) && !strings.Contains(buf.String(), `"wait":"10s"`) {
				t.Fatalf("output %q: want the duration as 10s", buf.String())
			}
		})
	}
}
