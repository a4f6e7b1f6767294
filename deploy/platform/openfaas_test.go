package platform

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stackFunctionNames lists the functions stack.yml deploys (the keys of its
// functions: block), so the test follows the pack as it grows.
func stackFunctionNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	inFunctions := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case line == "functions:":
			inFunctions = true
		case inFunctions && len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inFunctions = false
		case inFunctions && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && strings.HasSuffix(line, ":") && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			names = append(names, strings.TrimSuffix(strings.TrimSpace(line), ":"))
		}
	}
	if len(names) < 8 {
		t.Fatalf("stack.yml lists %d functions (%v): parse error?", len(names), names)
	}
	return names
}

// buildGeotrack builds the geotrack binary and this module's local provider.
func buildGeotrack(t *testing.T) (geotrack, provider string) {
	t.Helper()
	dir := t.TempDir()
	geotrack, provider = filepath.Join(dir, "geotrack"), filepath.Join(dir, "localprovider")
	run(t, repoRoot, []string{"CGO_ENABLED=0"}, "go", "build", "-o", geotrack, "./cmd/geotrack")
	run(t, "", nil, "go", "build", "-o", provider, "./cmd/localprovider")
	return geotrack, provider
}

// startRedis runs a redis-server on a free port that requires password.
func startRedis(t *testing.T, password string) string {
	t.Helper()
	port := freePort(t)
	startProcess(t, "redis-server", systemTool(t, "redis-server", "redis-server"),
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password)
	waitFor(t, "redis-server", 10*time.Second, func() bool {
		out, err := exec.Command("redis-cli", "-p", fmt.Sprint(port), "-a", password, "--no-auth-warning", "ping").Output()
		return err == nil && strings.TrimSpace(string(out)) == "PONG"
	})
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// gatewayImage is a scratch image holding the gateway binary built by
// scripts/build-platform-tools.sh: the gateway listens on :8080 only, so it
// runs in a container with its port published.
func gatewayImage(t *testing.T) string {
	t.Helper()
	bin := tool(t, "openfaas-gateway")
	version, err := os.ReadFile(filepath.Join(goBin(t), ".geotrack-platform", "openfaas-gateway"))
	if err != nil {
		t.Fatal(err)
	}
	image := "localhost/geotrack-test/openfaas-gateway:" + strings.TrimSpace(string(version))
	dir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "gateway"), data)
	if err := os.Chmod(filepath.Join(dir, "gateway"), 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "gateway.tar")
	run(t, dir, nil, "tar", "-cf", tarball, "gateway")
	run(t, "", podmanEnv(), "podman", "import", "--change", `ENTRYPOINT ["/gateway"]`, "--change", "USER 65534:65534", tarball, image)
	return image
}

func podmanEnv() []string {
	return []string{"CONTAINERS_CONF=" + filepath.Join(mustAbs(repoRoot), "scripts", "containers.conf")}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// TestOpenFaaSGatewayRunsStack deploys stack.yml with faas-cli through the
// real OpenFaaS gateway onto the local provider, with secrets created by
// `faas-cli secret create`, and drives the functions only through
// /function/<name> on the gateway:
//
//	device → edge-ingest ─edge.stored→ /function/forwarder → /function/ingest
//	       → location.updated to an HTTP sink; /function/position answers.
func TestOpenFaaSGatewayRunsStack(t *testing.T) {
	geotrack, provider := buildGeotrack(t)
	const (
		jwtSecret     = "gateway-e2e-secret-0123456789abcdef"
		redisPassword = "gateway-e2e-redis-password"
		tenant        = "acme"
	)
	cloudRedis, edgeRedis := startRedis(t, redisPassword), startRedis(t, redisPassword)

	events := make(chan http.Header, 16)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	providerPort, prometheusPort := freePort(t), freePort(t)
	startProcess(t, "localprovider", provider, "-binary", geotrack, "-port", fmt.Sprint(providerPort),
		"-prometheus-port", fmt.Sprint(prometheusPort), "-state", t.TempDir())

	gatewayPort := freePort(t)
	gateway := fmt.Sprintf("http://127.0.0.1:%d", gatewayPort)
	container := fmt.Sprintf("geotrack-test-gateway-%d", os.Getpid())
	image := gatewayImage(t)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := runErr("", podmanEnv(), "podman", "logs", container)
			t.Logf("gateway logs:\n%s", tail(string(out), 3000))
		}
		_, _ = runErr("", podmanEnv(), "podman", "rm", "-f", "--ignore", container)
	})
	run(t, "", podmanEnv(), "podman", "run", "-d", "--name", container, "-p", fmt.Sprintf("127.0.0.1:%d:8080", gatewayPort),
		"-e", fmt.Sprintf("functions_provider_url=http://host.containers.internal:%d/", providerPort),
		"-e", "faas_prometheus_host=host.containers.internal", "-e", fmt.Sprintf("faas_prometheus_port=%d", prometheusPort),
		"-e", "direct_functions=false", "-e", "read_timeout=30s", "-e", "write_timeout=30s", "-e", "upstream_timeout=25s",
		image)
	started := time.Now()
	waitFor(t, "gateway /healthz", 30*time.Second, func() bool {
		resp, err := http.Get(gateway + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	t.Logf("gateway ready in %s", time.Since(started).Round(time.Millisecond))
	faasCLI := tool(t, "faas-cli")
	mint := func(args ...string) string {
		return strings.TrimSpace(string(run(t, "", nil, geotrack, append([]string{"token", "--secret", jwtSecret, "--tenant", tenant}, args...)...)))
	}
	secrets := map[string]string{
		"jwt-secret":         jwtSecret,
		"redis-password":     redisPassword,
		"edge-service-token": mint("--role", "service"),
		// The archive tier's credentials (archiver, track, trips, privacy list
		// them; S3_ENDPOINT stays unset here, so they are never used).
		"s3-access-key": "unused-access-key",
		"s3-secret-key": "unused-secret-key-0123456789",
	}
	for name, value := range secrets {
		out := run(t, "", nil, faasCLI, "secret", "create", name, "--from-literal", value, "--gateway", gateway)
		t.Logf("faas-cli secret create %s: %s", name, lastLine(out))
	}

	// stack.yml's ${VAR:-default}s point the functions at this machine.
	stackEnv := []string{
		"OPENFAAS_URL=" + gateway,
		"REDIS_URL=" + cloudRedis, "EDGE_REDIS_URL=" + edgeRedis,
		"EVENT_SINK=" + sink.URL,
		"EDGE_EVENT_SINK=" + gateway + "/function/forwarder",
		"CLOUD_INGEST_URL=" + gateway + "/function/ingest",
		"NO_COLOR=1",
	}
	stackFunctions := stackFunctionNames(t)
	started = time.Now()
	out := run(t, repoRoot, stackEnv, faasCLI, "deploy", "-f", "stack.yml")
	t.Logf("faas-cli deploy took %s", time.Since(started).Round(time.Millisecond))
	if testing.Verbose() {
		t.Logf("faas-cli deploy:\n%s", out)
	}
	if n := strings.Count(string(out), "Deployed. 202 Accepted."); n != len(stackFunctions) {
		t.Fatalf("faas-cli deploy: %d functions deployed, want %d:\n%s", n, len(stackFunctions), out)
	}

	// The gateway lists what stack.yml asked for.
	var listed []struct {
		Name                   string                  `json:"name"`
		Secrets                []string                `json:"secrets"`
		Labels                 map[string]string       `json:"labels"`
		Annotations            map[string]string       `json:"annotations"`
		ReadOnlyRootFilesystem bool                    `json:"readOnlyRootFilesystem"`
		Limits                 struct{ Memory string } `json:"limits"`
	}
	getJSON(t, gateway+"/system/functions", &listed)
	if len(listed) != len(stackFunctions) {
		t.Fatalf("gateway lists %d functions, want %d", len(listed), len(stackFunctions))
	}
	for _, f := range listed {
		// The dashboard serves files and is the one function without secrets.
		if !f.ReadOnlyRootFilesystem || (len(f.Secrets) == 0) != (f.Name == "dashboard") || f.Labels["com.openfaas.scale.max"] == "" || f.Limits.Memory == "" {
			t.Errorf("%s lost stack.yml settings on the way: %+v", f.Name, f)
		}
		if f.Name == "ingest" && f.Annotations["topic"] != "io.geotrack.location.reported" {
			t.Errorf("ingest topic annotation: %v", f.Annotations)
		}
	}

	device := "gw-truck-1"
	deviceToken := mint("--role", "device", "--device", device)
	viewer := mint("--role", "viewer")
	ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)

	t.Run("cloud ingest and position through the gateway", func(t *testing.T) {
		body := fmt.Sprintf(`{"device":%q,"ts":%q,"lat":51.5007,"lon":-0.1246,"speed":3.5,"acc":4}`, "gw-cloud-1", ts.Format(time.RFC3339))
		r := request(t, http.MethodPost, gateway+"/function/ingest", mint("--role", "service"),
			http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"gw-1"},
				"Ce-Source": {"urn:test"}, "Ce-Type": {"io.geotrack.location.reported"}}, body)
		if r.status != http.StatusAccepted {
			t.Fatalf("ingest through the gateway: %d %s", r.status, r.body)
		}
		select {
		case h := <-events:
			if h.Get("Ce-Type") != "io.geotrack.location.updated" || h.Get("Ce-Subject") != "gw-cloud-1" || h.Get("Ce-Tenant") != tenant {
				t.Fatalf("event at the sink: %v", h)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no io.geotrack.location.updated reached EVENT_SINK")
		}
		r = request(t, http.MethodGet, gateway+"/function/position?device=gw-cloud-1", viewer, nil, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `"lat":51.5007`) {
			t.Fatalf("position through the gateway: %d %s", r.status, r.body)
		}
	})

	t.Run("edge to cloud through the gateway", func(t *testing.T) {
		ce := fmt.Sprintf(`{"specversion":"1.0","id":"gw-edge-1","source":"urn:device:%s","type":"io.geotrack.location.reported","subject":%q,"data":{"ts":%q,"lat":48.8584,"lon":2.2945,"speed":1.5,"acc":5}}`,
			device, device, ts.Format(time.RFC3339))
		r := request(t, http.MethodPost, gateway+"/function/edge-ingest", deviceToken,
			http.Header{"Content-Type": {"application/cloudevents+json"}}, ce)
		if r.status >= 300 {
			t.Fatalf("edge-ingest through the gateway: %d %s", r.status, r.body)
		}
		// edge-ingest wakes the forwarder through /function/forwarder; the
		// forwarder delivers to /function/ingest with edge-service-token.
		waitFor(t, "the edge fix to reach the cloud", 60*time.Second, func() bool {
			r := request(t, http.MethodGet, gateway+"/function/position?device="+device, viewer, nil, "")
			return r.status == http.StatusOK && strings.Contains(r.body, `"lat":48.8584`)
		})
	})

	// Issue 13: the dashboard's page and bundle through the gateway, and the
	// fleet read its page polls.
	t.Run("dashboard through the gateway", func(t *testing.T) {
		r := request(t, http.MethodGet, gateway+"/function/dashboard/", "", nil, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `<script src="app.js"`) {
			t.Fatalf("dashboard page through the gateway: %d %.300s", r.status, r.body)
		}
		for _, file := range []string{"app.js", "app.css", "config.json"} {
			if r := request(t, http.MethodGet, gateway+"/function/dashboard/"+file, "", nil, ""); r.status != http.StatusOK || r.body == "" {
				t.Errorf("dashboard %s through the gateway: %d", file, r.status)
			}
		}
		r = request(t, http.MethodGet, gateway+"/function/position?all=true", viewer, nil, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `"device":"gw-cloud-1"`) {
			t.Fatalf("position?all=true through the gateway: %d %.300s", r.status, r.body)
		}
	})

	// Every hop above went through the gateway's function proxy, as its
	// log says: the device's call, edge-ingest's event to the forwarder, the
	// forwarder's delivery to ingest and the query.
	logs := string(run(t, "", podmanEnv(), "podman", "logs", container))
	for _, hop := range []string{
		"[POST] to /function/edge-ingest - [202]",
		"[POST] to /function/forwarder - [200]",
		"[POST] to /function/ingest - [202]",
		"[GET] to /function/position?device=" + device + " - [200]",
	} {
		if !strings.Contains(logs, hop) {
			t.Errorf("the gateway did not forward %q:\n%s", hop, grepLines(logs, "/function/"))
		}
	}
	if n := strings.Count(logs, "[POST] to /function/ingest - [202]"); n < 2 {
		t.Errorf("the gateway forwarded %d successful calls to ingest, want 2 (the test's and the forwarder's)", n)
	}

	out = run(t, "", nil, faasCLI, "list", "--gateway", gateway)
	for _, fn := range stackFunctions {
		if !strings.Contains(string(out), fn) {
			t.Errorf("faas-cli list lacks %s:\n%s", fn, out)
		}
	}
}

type reply struct {
	status int
	body   string
}

func request(t *testing.T, method, url, token string, h http.Header, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(data)}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	r := request(t, http.MethodGet, url, "", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, r.body)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func grepLines(s, substr string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			last = s
		}
	}
	return last
}
