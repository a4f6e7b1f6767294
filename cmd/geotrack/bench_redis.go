package main

// This file: redis-benchmark GEOADD, the baseline the ingest figures are compared with.

import (
	"context"
	"fmt"
	neturl "net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type redisAddr struct{ host, port, password string }

func redisTarget(rawURL string) (redisAddr, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return redisAddr{}, fmt.Errorf("bench ingest: redis url: %w", err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "6379"
	}
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return redisAddr{}, fmt.Errorf("bench ingest: --redis-url must point at 127.0.0.1 (got host %q): benchmarks only load local targets", host)
	}
	pw, _ := u.User.Password()
	return redisAddr{host: "127.0.0.1", port: port, password: pw}, nil
}

var requestsPerSecond = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) requests per second`)

// geoaddBench runs redis-benchmark GEOADD with pipeline depth pipeline (0 =
// none) and 50 clients, and returns its requests per second.
func geoaddBench(ctx context.Context, t redisAddr, n, pipeline int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	args := []string{"-h", t.host, "-p", t.port, "-n", strconv.Itoa(n), "-r", "1000000", "-c", "50", "-q"}
	if pipeline > 0 {
		args = append(args, "-P", strconv.Itoa(pipeline))
	}
	if t.password != "" {
		args = append(args, "-a", t.password, "--no-auth-warning")
	}
	args = append(args, "GEOADD", "bench:geo", "13.36", "38.11", "m:__rand_int__")
	out, err := exec.CommandContext(ctx, "redis-benchmark", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, lastOutputLine(out))
	}
	return parseRequestsPerSecond(out)
}

// parseRequestsPerSecond reads the final figure of redis-benchmark -q, whose
// output also holds \r-separated progress lines.
func parseRequestsPerSecond(out []byte) (float64, error) {
	m := requestsPerSecond.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no requests per second in %q", lastOutputLine(out))
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

func lastOutputLine(b []byte) string {
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\r", "\n"))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
