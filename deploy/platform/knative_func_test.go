package platform

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// localModuleVersion is the version under which the geotrack module is
// served to the func project from a file proxy: func builds the function as
// a dependency of its generated main module, where replace directives of
// the function's go.mod do not apply.
const localModuleVersion = "v0.0.0-local"

// writeModuleProxy writes a GOPROXY=file:// tree serving this checkout of
// github.com/geotrack/geotrack at localModuleVersion.
func writeModuleProxy(t *testing.T) string {
	t.Helper()
	const module = "github.com/geotrack/geotrack"
	root := mustAbs(repoRoot)
	files := strings.Fields(string(run(t, root, nil, "git", "ls-files", "--cached", "--others", "--exclude-standard")))
	// nested modules (deploy/validate, deploy/platform) are not part of it
	var nested []string
	for _, f := range files {
		if filepath.Base(f) == "go.mod" && filepath.Dir(f) != "." {
			nested = append(nested, filepath.Dir(f)+"/")
		}
	}
	proxy := t.TempDir()
	dir := filepath.Join(proxy, module, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		skip := false
		for _, n := range nested {
			skip = skip || strings.HasPrefix(f, n)
		}
		if skip {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(module + "@" + localModuleVersion + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, localModuleVersion+".zip"), buf.Bytes())
	writeFile(t, filepath.Join(dir, localModuleVersion+".mod"), gomod)
	writeFile(t, filepath.Join(dir, localModuleVersion+".info"), []byte(`{"Version":"`+localModuleVersion+`","Time":"2026-01-01T00:00:00Z"}`))
	writeFile(t, filepath.Join(dir, "list"), []byte(localModuleVersion+"\n"))
	return proxy
}

// TestKnativeFuncRunsIngest runs geotrack's ingest as a Knative function
// with `func run --container=false` (func builds and runs it on the host;
// its image builders need registry images) and sends it a CloudEvent.
func TestKnativeFuncRunsIngest(t *testing.T) {
	geotrack, _ := buildGeotrack(t)
	const (
		jwtSecret     = "knative-func-secret-0123456789abcdef"
		redisPassword = "knative-func-redis-password"
	)
	redisURL := startRedis(t, redisPassword)
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "jwt-secret"), []byte(jwtSecret))
	writeFile(t, filepath.Join(secrets, "redis-password"), []byte(redisPassword))

	proxy := writeModuleProxy(t)
	goproxy := strings.TrimSpace(string(run(t, "", nil, "go", "env", "GOPROXY")))
	goEnv := []string{
		"GOPROXY=file://" + proxy + "," + goproxy,
		"GONOSUMDB=github.com/geotrack/geotrack", "GOFLAGS=-mod=mod", "GOWORK=off",
	}

	fn := filepath.Join(t.TempDir(), "geotrack-ingest")
	if err := os.CopyFS(fn, os.DirFS(filepath.Join("testdata", "func-ingest"))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fn, "go.mod"), []byte("module function\n\ngo 1.26.0\n\nrequire github.com/geotrack/geotrack "+localModuleVersion+"\n"))
	writeFile(t, filepath.Join(fn, "func.yaml"), []byte(fmt.Sprintf(`specVersion: 0.36.0
name: geotrack-ingest
runtime: go
invoke: http
created: 2026-11-29T00:00:00Z
run:
  envs:
  - name: REDIS_URL
    value: %s
  - name: SECRETS_DIR
    value: %s
`, redisURL, secrets)))
	run(t, fn, goEnv, "go", "mod", "tidy")

	cmd := exec.Command(tool(t, "func"), "run", "--container=false", "--path", fn, "--verbose")
	cmd.Env = append(os.Environ(), goEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // func starts the function as its child
	// func prints the port it chose on stderr, the build and the function's
	// logs on stdout: read both through one pipe.
	output, outputWriter, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outputWriter, outputWriter
	var logs syncBuffer
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outputWriter.Close()
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("func run output:\n%s", tail(logs.String(), 4000))
		}
	})
	portCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(output)
		re := regexp.MustCompile(`Running on host port (\d+)`)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				portCh <- m[1]
			}
		}
		_ = cmd.Wait()
		output.Close()
		close(done)
	}()
	var port string
	select {
	case port = <-portCh:
	case <-done:
		t.Fatalf("func run exited:\n%s", logs.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("func run did not start the function in 5 minutes:\n%s", logs.String())
	}
	url := "http://127.0.0.1:" + port
	waitFor(t, "the function's readiness", 30*time.Second, func() bool {
		resp, err := http.Get(url + "/health/readiness")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	service := strings.TrimSpace(string(run(t, "", nil, geotrack, "token", "--secret", jwtSecret, "--tenant", "acme", "--role", "service")))
	ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	r := request(t, http.MethodPost, url, service, http.Header{
		"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"kn-1"}, "Ce-Source": {"urn:test"},
		"Ce-Type": {"io.geotrack.location.reported"}, "Ce-Subject": {"kn-truck-1"},
	}, fmt.Sprintf(`{"ts":%q,"lat":52.52,"lon":13.405,"speed":2,"acc":3}`, ts))
	if r.status != http.StatusAccepted || !strings.Contains(r.body, `"accepted":1`) {
		t.Fatalf("CloudEvent to the func-run ingest: %d %s", r.status, r.body)
	}

	// What it stored is what geotrack's own position function reads.
	positionPort := freePort(t)
	startProcessEnv(t, "position", []string{"PORT=" + fmt.Sprint(positionPort), "REDIS_URL=" + redisURL, "SECRETS_DIR=" + secrets},
		geotrack, "serve", "position")
	positionURL := fmt.Sprintf("http://127.0.0.1:%d", positionPort)
	waitFor(t, "position ready", 10*time.Second, func() bool {
		resp, err := http.Get(positionURL + "/_/ready")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	viewer := strings.TrimSpace(string(run(t, "", nil, geotrack, "token", "--secret", jwtSecret, "--tenant", "acme", "--role", "viewer")))
	r = request(t, http.MethodGet, positionURL+"?device=kn-truck-1", viewer, nil, "")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"lat":52.52`) {
		t.Fatalf("position of the fix ingested under func: %d %s", r.status, r.body)
	}
}
