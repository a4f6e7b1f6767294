package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenOption adjusts Open with settings that do not belong in a URL.
type OpenOption func(*openConfig)

type openConfig struct {
	password       *string
	passwordFile   string
	caFile         string
	dialTimeout    time.Duration
	commandTimeout time.Duration
}

// WithTimeouts sets the dial timeout and the read and write timeout of each
// command (a stuck or restarting Redis fails a request after about that long
// instead of hanging it), unless the URL sets dial_timeout, read_timeout or
// write_timeout itself. Zero keeps go-redis' default.
func WithTimeouts(dial, command time.Duration) OpenOption {
	return func(c *openConfig) { c.dialTimeout, c.commandTimeout = dial, command }
}

// WithPassword sets the password, overriding one in the URL (e.g. from a
// secret that is not part of the URL).
func WithPassword(password string) OpenOption {
	return func(c *openConfig) { c.password = &password }
}

// WithPasswordFile reads the password from a file (a mounted secret);
// surrounding whitespace is trimmed. It overrides a password in the URL. An
// empty path is ignored, so it can be fed straight from an optional env var.
func WithPasswordFile(path string) OpenOption {
	return func(c *openConfig) { c.passwordFile = path }
}

// WithCAFile trusts the PEM CA certificates in path for rediss:// instead of
// the system roots. An empty path is ignored.
func WithCAFile(path string) OpenOption {
	return func(c *openConfig) { c.caFile = path }
}

// target is a parsed Redis URL.
type target struct {
	tls          bool
	cluster      bool
	addrs        []string
	username     string
	password     string
	db           int
	insecure     bool
	dialTimeout  time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	poolSize     int
}

// Open builds a client from a URL. Accepted forms:
//
//	redis://[user:pass@]host[:port][/db]       single node (port 6379, db 0 by default)
//	rediss://...                                the same over TLS
//	redis+cluster://host1:p1,host2:p2          Redis Cluster (seed nodes); rediss+cluster:// for TLS
//	redis://host1:p1,host2:p2?cluster=true     the same cluster, for tools that only know redis://
//
// Query parameters: cluster=true, insecure_skip_verify=true (TLS only; for
// tests), dial_timeout, read_timeout, write_timeout (Go durations), pool_size.
// Unknown parameters are an error so typos do not go unnoticed. A cluster
// URL must use db 0. The result is a *redis.Client or *redis.ClusterClient.
func Open(rawURL string, opts ...OpenOption) (redis.UniversalClient, error) {
	var cfg openConfig
	for _, o := range opts {
		o(&cfg)
	}
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse redis URL %s: %w", redactURL(rawURL), err)
	}
	if cfg.password != nil {
		t.password = *cfg.password
	}
	if t.dialTimeout == 0 {
		t.dialTimeout = cfg.dialTimeout
	}
	if t.readTimeout == 0 {
		t.readTimeout = cfg.commandTimeout
	}
	if t.writeTimeout == 0 {
		t.writeTimeout = cfg.commandTimeout
	}
	if cfg.passwordFile != "" {
		data, err := os.ReadFile(cfg.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("redisstore: read password file: %w", err)
		}
		t.password = strings.TrimSpace(string(data))
	}
	var tlsConfig *tls.Config
	if t.tls {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.insecure} //nolint:gosec // opt-in via URL, for tests
		if !t.cluster {
			host, _, _ := net.SplitHostPort(t.addrs[0])
			tlsConfig.ServerName = host
		} // cluster: ServerName is derived per node from the address it dials
		if cfg.caFile != "" {
			pool, err := loadCAs(cfg.caFile)
			if err != nil {
				return nil, err
			}
			tlsConfig.RootCAs = pool
		}
	} else if cfg.caFile != "" {
		return nil, errors.New("redisstore: a CA file was given but the redis URL is not rediss://")
	}

	// Every client marks outage errors, so callers can tell "Redis is down,
	// retry" (503) from a bug (500).
	if t.cluster {
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        t.addrs,
			Username:     t.username,
			Password:     t.password,
			TLSConfig:    tlsConfig,
			DialTimeout:  t.dialTimeout,
			ReadTimeout:  t.readTimeout,
			WriteTimeout: t.writeTimeout,
			PoolSize:     t.poolSize,
			// One dial per attempt: the command's own retries (3) redial,
			// and five dials per attempt made a request wait seconds
			// before its 503 while Redis was down.
			DialerRetries: 1,
		})
		c.AddHook(outageHook{})
		return c, nil
	}
	c := redis.NewClient(&redis.Options{
		Addr:         t.addrs[0],
		Username:     t.username,
		Password:     t.password,
		DB:           t.db,
		TLSConfig:    tlsConfig,
		DialTimeout:  t.dialTimeout,
		ReadTimeout:  t.readTimeout,
		WriteTimeout: t.writeTimeout,
		PoolSize:     t.poolSize,
		// See the cluster case.
		DialerRetries: 1,
	})
	c.AddHook(outageHook{})
	return c, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("redisstore: read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("redisstore: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// parseURL is hand-written rather than url.Parse because a cluster URL has
// several comma-separated hosts, which net/url does not model.
func parseURL(raw string) (target, error) {
	var t target
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return t, errors.New("missing scheme: want redis://, rediss://, redis+cluster:// or rediss+cluster://")
	}
	switch strings.ToLower(scheme) {
	case "redis":
	case "rediss":
		t.tls = true
	case "redis+cluster":
		t.cluster = true
	case "rediss+cluster":
		t.tls, t.cluster = true, true
	default:
		return t, fmt.Errorf("unsupported scheme %q: want redis, rediss, redis+cluster or rediss+cluster", scheme)
	}

	// Userinfo ends at the last '@', so a password with an unescaped '/',
	// '?' or '@' still parses (no query parameter value contains '@').
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if err := t.parseUserinfo(rest[:i]); err != nil {
			return t, err
		}
		rest = rest[i+1:]
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rawQuery, '#'); i >= 0 {
		rawQuery = rawQuery[:i]
	}
	authority, path, _ := strings.Cut(rest, "/")

	if err := t.parseQuery(rawQuery); err != nil {
		return t, err
	}
	hosts := strings.Split(authority, ",")
	for _, h := range hosts {
		addr, err := normalizeAddr(h)
		if err != nil {
			return t, err
		}
		t.addrs = append(t.addrs, addr)
	}
	if len(t.addrs) > 1 && !t.cluster {
		return t, errors.New("several hosts need redis+cluster:// or ?cluster=true")
	}

	path = strings.TrimSuffix(path, "/")
	if path != "" {
		db, err := strconv.Atoi(path)
		if err != nil || db < 0 || db > 1<<20 {
			return t, fmt.Errorf("database %q is not a non-negative number", path)
		}
		t.db = db
	}
	if t.cluster && t.db != 0 {
		return t, fmt.Errorf("database %d: Redis Cluster only has database 0", t.db)
	}
	if t.insecure && !t.tls {
		return t, errors.New("insecure_skip_verify needs a rediss:// URL")
	}
	return t, nil
}

func (t *target) parseUserinfo(info string) error {
	user, pass, hasPass := strings.Cut(info, ":")
	var err error
	if t.username, err = url.PathUnescape(user); err != nil {
		return fmt.Errorf("username: %w", err)
	}
	if hasPass {
		if t.password, err = url.PathUnescape(pass); err != nil {
			return errors.New("password: invalid percent-encoding")
		}
	}
	return nil
}

func (t *target) parseQuery(rawQuery string) error {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "cluster", "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s=%q is not a boolean", key, v)
			}
			if key == "cluster" {
				t.cluster = t.cluster || b
			} else {
				t.insecure = b
			}
		case "dial_timeout", "read_timeout", "write_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("%s=%q is not a duration such as 5s", key, v)
			}
			switch key {
			case "dial_timeout":
				t.dialTimeout = d
			case "read_timeout":
				t.readTimeout = d
			default:
				t.writeTimeout = d
			}
		case "pool_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100000 {
				return fmt.Errorf("pool_size=%q is not a non-negative number", v)
			}
			t.poolSize = n
		default:
			return fmt.Errorf("unknown query parameter %q", key)
		}
	}
	return nil
}

// normalizeAddr checks host[:port] and fills in the default port 6379.
func normalizeAddr(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: "host" or "[::1]".
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "6379"
	}
	if host == "" || strings.ContainsAny(host, "[]/ @") {
		return "", fmt.Errorf("invalid host %q", h)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in %q", h)
	}
	return net.JoinHostPort(host, port), nil
}

// redactURL hides the password so that errors can be logged safely.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparseable)"
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, _, _ := strings.Cut(rest[:at], ":")
		return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
	}
	return raw
}
