// Command coldstart measures how long a geotrack function takes from being
// started to its first 200 on /_/ready, as a bare process and as a container
// (`podman run`), alternating the two in one run so both see the same machine
// load, and prints the median of each.
//
//	go run ./cmd/coldstart -binary ../../bin/geotrack -image localhost/geotrack/ingest:dev-amd64 -redis redis://127.0.0.1:6379/0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	binary := flag.String("binary", "bin/geotrack", "geotrack binary for the bare runs")
	image := flag.String("image", "", "image for the container runs (entrypoint `geotrack serve`)")
	function := flag.String("function", "ingest", "function to serve")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "REDIS_URL for the function")
	runs := flag.Int("runs", 7, "repetitions of each")
	flag.Parse()
	if err := run(*binary, *image, *function, *redisURL, *runs); err != nil {
		slog.Error("coldstart", "err", err)
		os.Exit(1)
	}
}

func run(binary, image, function, redisURL string, runs int) error {
	var bare, container []time.Duration
	for i := range runs {
		port, err := freePort()
		if err != nil {
			return err
		}
		d, err := measure(exec.Command(binary, "serve", function), port, redisURL, "")
		if err != nil {
			return fmt.Errorf("bare run %d: %w", i, err)
		}
		bare = append(bare, d)
		if image == "" {
			continue
		}
		if port, err = freePort(); err != nil {
			return err
		}
		name := fmt.Sprintf("geotrack-coldstart-%d-%d", os.Getpid(), i)
		cmd := exec.Command("podman", "run", "--rm", "--name", name, "--network=host", "--read-only",
			"-e", fmt.Sprintf("PORT=%d", port), "-e", "REDIS_URL="+redisURL, "-e", "SHUTDOWN_DELAY=0",
			"-e", "GEOTRACK_JWT_SECRET=coldstart-secret-0123456789abcdef", image, function)
		d, err = measure(cmd, port, redisURL, name)
		if err != nil {
			return fmt.Errorf("container run %d: %w", i, err)
		}
		container = append(container, d)
	}
	fmt.Printf("bare process   %s: median %s of %d runs %v\n", function, median(bare), len(bare), bare)
	if image != "" {
		fmt.Printf("podman run     %s: median %s of %d runs %v\n", function, median(container), len(container), container)
	}
	return nil
}

// measure starts cmd and returns the time to the first 200 on /_/ready.
func measure(cmd *exec.Cmd, port int, redisURL, container string) (time.Duration, error) {
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "REDIS_URL="+redisURL,
		"SHUTDOWN_DELAY=0", "GEOTRACK_JWT_SECRET=coldstart-secret-0123456789abcdef", "LOG_LEVEL=warn")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	defer func() {
		if container != "" {
			_ = exec.Command("podman", "rm", "-f", "--ignore", container).Run()
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/_/ready", port)
	client := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, errors.New("not ready within 30s")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
