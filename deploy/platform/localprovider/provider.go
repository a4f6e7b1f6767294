// Package localprovider is an OpenFaaS provider, written on faas-provider,
// that runs each deployed function as a local `geotrack serve <name>` process
// on a free port instead of a container. It is test code: it lets the real
// OpenFaaS gateway and faas-cli deploy and invoke geotrack's stack.yml on a
// machine without a cluster. Secrets created through the gateway are written
// as files and reach a function the way OpenFaaS mounts them, through a
// secrets folder (SECRETS_DIR).
package localprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/proxy"
	"github.com/openfaas/faas-provider/types"
)

// Namespace is the one namespace this provider offers.
const Namespace = "openfaas-fn"

// Provider keeps the running functions and the secrets.
type Provider struct {
	binary   string // the geotrack executable
	stateDir string // secrets and per-function secret folders

	mu        sync.Mutex
	functions map[string]*function
}

type function struct {
	spec    types.FunctionDeployment
	port    int
	cmd     *exec.Cmd
	logs    *logBuffer
	done    chan struct{}
	created time.Time
}

// New returns a provider running binary; stateDir holds its secrets.
func New(binary, stateDir string) (*Provider, error) {
	if err := os.MkdirAll(filepath.Join(stateDir, "secrets"), 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return &Provider{binary: binary, stateDir: stateDir, functions: map[string]*function{}}, nil
}

// Handlers are the faas-provider handlers for bootstrap.Serve.
func (p *Provider) Handlers(config types.FaaSConfig) *types.FaaSHandlers {
	return &types.FaaSHandlers{
		FunctionProxy:  proxy.NewHandlerFunc(config, p, false),
		FunctionLister: p.list,
		DeployFunction: p.deploy,
		UpdateFunction: p.deploy,
		DeleteFunction: p.delete,
		FunctionStatus: p.status,
		ScaleFunction:  p.scale,
		Secrets:        p.secrets,
		Logs:           p.logs,
		Info:           p.info,
		ListNamespaces: p.namespaces,
		MutateNamespace: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "namespaces are fixed", http.StatusNotImplemented)
		},
		Health: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
	}
}

// Resolve implements proxy.BaseURLResolver.
func (p *Provider) Resolve(name string) (url.URL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn, ok := p.functions[name]
	if !ok {
		return url.URL{}, fmt.Errorf("function %q not deployed", name)
	}
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", fn.port)}, nil
}

// Close stops every function, all at once: one after the other, their
// graceful shutdowns added up past the grace the provider itself gets, and
// the functions not reached yet outlived it as orphans.
func (p *Provider) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var wg sync.WaitGroup
	for name, fn := range p.functions {
		wg.Add(1)
		go func() { defer wg.Done(); fn.stop() }()
		delete(p.functions, name)
	}
	wg.Wait()
}

// secretName is what OpenFaaS accepts as a secret (a Kubernetes name).
var secretName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func (p *Provider) deploy(w http.ResponseWriter, r *http.Request) {
	var spec types.FunctionDeployment
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
		http.Error(w, "decode deployment: "+err.Error(), http.StatusBadRequest)
		return
	}
	if spec.Service == "" {
		http.Error(w, "service: required", http.StatusBadRequest)
		return
	}
	secretsDir := filepath.Join(p.stateDir, "functions", spec.Service, "secrets")
	if err := os.RemoveAll(secretsDir); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Like faas-netes: a function naming a secret that does not exist is
	// not deployed.
	for _, s := range spec.Secrets {
		data, err := os.ReadFile(filepath.Join(p.stateDir, "secrets", s))
		if err != nil {
			http.Error(w, fmt.Sprintf("secrets: %q does not exist", s), http.StatusBadRequest)
			return
		}
		if err := os.WriteFile(filepath.Join(secretsDir, s), data, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}

	p.mu.Lock()
	if old, ok := p.functions[spec.Service]; ok {
		old.stop()
		delete(p.functions, spec.Service)
	}
	p.mu.Unlock()

	fn, err := p.start(spec, secretsDir)
	if err != nil {
		slog.Error("deploy", "function", spec.Service, "err", err)
		http.Error(w, fmt.Sprintf("deploy %s: %v", spec.Service, err), http.StatusInternalServerError)
		return
	}
	p.mu.Lock()
	p.functions[spec.Service] = fn
	p.mu.Unlock()
	slog.Info("deployed", "function", spec.Service, "port", fn.port)
	w.WriteHeader(http.StatusAccepted)
}

// start runs the function and waits until it answers /_/ready.
func (p *Provider) start(spec types.FunctionDeployment, secretsDir string) (*function, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.binary, "serve", spec.Service)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range spec.EnvVars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// the platform's own settings win over the stack's, as on OpenFaaS
	cmd.Env = append(cmd.Env, fmt.Sprintf("PORT=%d", port), "SECRETS_DIR="+secretsDir)
	fn := &function{spec: spec, port: port, cmd: cmd, logs: &logBuffer{}, done: make(chan struct{}), created: time.Now()}
	cmd.Stdout, cmd.Stderr = fn.logs, fn.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	go func() { _ = cmd.Wait(); close(fn.done) }()
	ready := fmt.Sprintf("http://127.0.0.1:%d/_/ready", port)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fn, nil
			}
		}
		select {
		case <-fn.done:
			return nil, fmt.Errorf("exited: %s", fn.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	fn.stop()
	return nil, fmt.Errorf("not ready after 15s: %s", fn.logs.String())
}

func (fn *function) stop() {
	select {
	case <-fn.done:
		return
	default:
	}
	_ = fn.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-fn.done:
	case <-time.After(10 * time.Second):
		_ = fn.cmd.Process.Kill()
		<-fn.done
	}
}

func (p *Provider) delete(w http.ResponseWriter, r *http.Request) {
	var req types.DeleteFunctionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	fn, ok := p.functions[req.FunctionName]
	delete(p.functions, req.FunctionName)
	p.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("function %q not found", req.FunctionName), http.StatusNotFound)
		return
	}
	fn.stop()
	w.WriteHeader(http.StatusAccepted)
}

func (fn *function) status() types.FunctionStatus {
	spec := fn.spec
	var available uint64
	select {
	case <-fn.done:
	default:
		available = 1
	}
	return types.FunctionStatus{
		Name: spec.Service, Image: spec.Image, Namespace: Namespace, EnvProcess: spec.EnvProcess,
		EnvVars: spec.EnvVars, Constraints: spec.Constraints, Secrets: spec.Secrets,
		Labels: spec.Labels, Annotations: spec.Annotations, Limits: spec.Limits, Requests: spec.Requests,
		ReadOnlyRootFilesystem: spec.ReadOnlyRootFilesystem,
		Replicas:               1, AvailableReplicas: available, CreatedAt: fn.created,
	}
}

func (p *Provider) list(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	out := make([]types.FunctionStatus, 0, len(p.functions))
	for _, fn := range p.functions {
		out = append(out, fn.status())
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b types.FunctionStatus) int { return cmpString(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

func (p *Provider) status(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	p.mu.Lock()
	fn, ok := p.functions[name]
	p.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("function %q not found", name), http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, fn.status())
}

// scale accepts any replica count: a local function is one process.
func (p *Provider) scale(w http.ResponseWriter, r *http.Request) {
	var req types.ScaleServiceRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	_, ok := p.functions[req.ServiceName]
	p.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("function %q not found", req.ServiceName), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) secrets(w http.ResponseWriter, r *http.Request) {
	dir := filepath.Join(p.stateDir, "secrets")
	if r.Method == http.MethodGet {
		entries, err := os.ReadDir(dir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := []types.Secret{}
		for _, e := range entries {
			out = append(out, types.Secret{Name: e.Name(), Namespace: Namespace})
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	var s types.Secret
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		http.Error(w, "decode secret: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !secretName.MatchString(s.Name) {
		http.Error(w, fmt.Sprintf("name: %q is not a valid secret name", s.Name), http.StatusBadRequest)
		return
	}
	path := filepath.Join(dir, s.Name)
	_, statErr := os.Stat(path)
	exists := statErr == nil
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		if r.Method == http.MethodPost && exists {
			http.Error(w, fmt.Sprintf("secret %q already exists", s.Name), http.StatusConflict)
			return
		}
		if r.Method == http.MethodPut && !exists {
			http.Error(w, fmt.Sprintf("secret %q not found", s.Name), http.StatusNotFound)
			return
		}
		value := s.RawValue
		if len(value) == 0 {
			value = []byte(s.Value)
		}
		if err := os.WriteFile(path, value, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	case http.MethodDelete:
		if err := os.Remove(path); err != nil {
			http.Error(w, fmt.Sprintf("secret %q not found", s.Name), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// logs returns what the function wrote so far (no streaming).
func (p *Provider) logs(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	p.mu.Lock()
	fn, ok := p.functions[name]
	p.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("function %q not found", name), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, fn.logs.String())
}

func (p *Provider) info(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, types.ProviderInfo{
		Name: "geotrack-localprovider", Orchestration: "local processes",
		Version: &types.VersionInfo{Release: "test", SHA: "test"},
	})
}

func (p *Provider) namespaces(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, []string{Namespace})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logBuffer is a process's stdout and stderr, read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// PrometheusStub answers the gateway's Prometheus queries with an empty
// vector: the gateway's function list asks Prometheus for invocation counts
// and fails without an answer.
func PrometheusStub() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success",
			"data": map[string]any{"resultType": "vector", "result": []any{}}})
	})
}
