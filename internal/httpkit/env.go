package httpkit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Env is the environment a function process reads. EXEC_TIMEOUT borrows its
// name from of-watchdog's exec_timeout. Under of-watchdog (http mode) note
// that the watchdog itself listens on its lowercase `port`; set PORT to the
// upstream_url port (8082 in the golang-http template).
type Env struct {
	Port            int           `envconfig:"PORT" default:"8080"`
	MaxBodyBytes    int64         `envconfig:"MAX_BODY_BYTES" default:"1048576"`
	ReadTimeout     time.Duration `envconfig:"READ_TIMEOUT" default:"10s"`
	WriteTimeout    time.Duration `envconfig:"WRITE_TIMEOUT" default:"10s"`
	ExecTimeout     time.Duration `envconfig:"EXEC_TIMEOUT" default:"10s"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s"`
	ShutdownDelay   time.Duration `envconfig:"SHUTDOWN_DELAY" default:"5s"`
	MaxInflight     int           `envconfig:"MAX_INFLIGHT" default:"256"`
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info"`  // debug|info|warn|error
	LogFormat       string        `envconfig:"LOG_FORMAT" default:"json"` // json|text
	// TLSCertFile and TLSKeyFile make the function serve HTTPS itself
	// (edge nodes without a mesh), re-read when they change.
	TLSCertFile string `envconfig:"TLS_CERT_FILE"`
	TLSKeyFile  string `envconfig:"TLS_KEY_FILE"`
	// TrustedProxies (comma-separated CIDRs) are the proxies whose
	// X-Forwarded-For names the client in the audit trail.
	TrustedProxies string `envconfig:"TRUSTED_PROXIES"`
}

// EnvVars lists the variable names Env reads, so a test can check that
// deployment files (stack.yml, Knative services) set only known keys.
func EnvVars() []string {
	t := reflect.TypeFor[Env]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		names = append(names, t.Field(i).Tag.Get("envconfig"))
	}
	return names
}

// LoadEnv reads and checks Env from the process environment.
func LoadEnv() (Env, error) {
	var e Env
	if err := envconfig.Process("", &e); err != nil {
		return Env{}, fmt.Errorf("read environment: %w", err)
	}
	if err := e.validate(); err != nil {
		return Env{}, fmt.Errorf("read environment: %w", err)
	}
	return e, nil
}

func (e Env) validate() error {
	positive := []struct {
		key string
		v   int64
	}{
		{"MAX_BODY_BYTES", e.MaxBodyBytes},
		{"READ_TIMEOUT", int64(e.ReadTimeout)},
		{"WRITE_TIMEOUT", int64(e.WriteTimeout)},
		{"EXEC_TIMEOUT", int64(e.ExecTimeout)},
		{"SHUTDOWN_TIMEOUT", int64(e.ShutdownTimeout)},
		{"MAX_INFLIGHT", int64(e.MaxInflight)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive", p.key)
		}
	}
	if e.ShutdownDelay < 0 {
		return errors.New("SHUTDOWN_DELAY must not be negative (0 turns it off)")
	}
	if e.Port < 1 || e.Port > 65535 {
		return fmt.Errorf("PORT %d is outside 1..65535", e.Port)
	}
	if _, err := parseLevel(e.LogLevel); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if f := strings.ToLower(e.LogFormat); f != "json" && f != "text" {
		return fmt.Errorf("LOG_FORMAT %q: want json or text", e.LogFormat)
	}
	if (e.TLSCertFile == "") != (e.TLSKeyFile == "") {
		return errors.New("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
	}
	if _, err := ParseTrustedProxies(e.TrustedProxies); err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return nil
}

// OptionsFromEnv builds Options for the function name from the environment,
// with a logger writing to stderr in LOG_FORMAT at LOG_LEVEL. Ready is left
// for the caller to set.
func OptionsFromEnv(name string) (Options, error) {
	e, err := LoadEnv()
	if err != nil {
		return Options{}, err
	}
	return e.Options(name, os.Stderr)
}

// Options converts e into Options, logging to w.
func (e Env) Options(name string, w io.Writer) (Options, error) {
	if err := e.validate(); err != nil {
		return Options{}, err
	}
	logger, err := NewLogger(w, e.LogLevel, e.LogFormat)
	if err != nil {
		return Options{}, err
	}
	proxies, _ := ParseTrustedProxies(e.TrustedProxies) // validated above
	return Options{
		Name:            name,
		Addr:            ":" + strconv.Itoa(e.Port),
		MaxBodyBytes:    e.MaxBodyBytes,
		ReadTimeout:     e.ReadTimeout,
		WriteTimeout:    e.WriteTimeout,
		HandlerTimeout:  e.ExecTimeout,
		ShutdownTimeout: e.ShutdownTimeout,
		ShutdownDelay:   e.ShutdownDelay,
		MaxInflight:     e.MaxInflight,
		TrustedProxies:  proxies,
		TLSCertFile:     e.TLSCertFile,
		TLSKeyFile:      e.TLSKeyFile,
		Logger:          logger,
	}.withDefaults(), nil
}

// NewLogger returns a logger writing to w; level is debug|info|warn|error and
// format json|text (case-insensitive).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableDuration}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}

// readableDuration logs durations as "10s" rather than the JSON handler's
// nanoseconds (10000000000), which nobody reads right.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
}
