package httpkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// coldStartEnv makes the test binary act as a function process, so the cold
// start benchmark can exec it.
const coldStartEnv = "GEOTRACK_RUNTIME_COLDSTART"

func TestMain(m *testing.M) {
	if os.Getenv(coldStartEnv) == "1" {
		os.Exit(coldStartMain())
	}
	os.Exit(m.Run())
}

func coldStartMain() int {
	opts, err := OptionsFromEnv("coldstart")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := Serve(context.Background(), "coldstart", ok("ok"), opts, "127.0.0.1:0"); err != nil {
		opts.Logger.Error("serve", "error", err)
		return 1
	}
	return 0
}

// BenchmarkColdStart execs a function process (this test binary, which
// initialises more packages than a real function does, so the numbers are
// an upper bound) and reports the time from exec to the first 200 on
// /_/ready, and the resident memory then.
func BenchmarkColdStart(b *testing.B) {
	var total time.Duration
	var rssSum float64
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for b.Loop() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), coldStartEnv+"=1", "LOG_LEVEL=info", "LOG_FORMAT=json")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		addr := waitListening(b, sc)
		for {
			resp, err := client.Get("http://" + addr + PathReady)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		total += time.Since(began)
		rssSum += rssMB(b, cmd.Process.Pid)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		for sc.Scan() { // read to EOF (the child exiting) before Wait closes the pipe
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("function process: %v", err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-ready")
	b.ReportMetric(rssSum/float64(b.N), "MB-rss")
}

func waitListening(b *testing.B, sc *bufio.Scanner) string {
	for sc.Scan() {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	b.Fatalf("function process exited without a 'listening' line: %v", sc.Err())
	return ""
}

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}
