// Package function serves geotrack's ingest function under Knative's func
// (knative.dev/func-go, instanced HTTP signature): the same constructor
// `geotrack serve ingest` uses, with func's HTTP server in front. A CloudEvent
// posted to it is ingested like one sent to the ingest image.
package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	handler "github.com/openfaas/templates-sdk/go-http"
	"gopkg.in/yaml.v3"

	"github.com/geotrack/geotrack/functions"
)

// maxBody bounds a request body, like the HTTP kit of `geotrack serve`.
const maxBody = 8 << 20

// Function is one geotrack function built from the pack.
type Function struct {
	name  string
	deps  *functions.Deps
	built *functions.Built
}

// New is func's constructor.
func New() *Function { return &Function{name: "ingest"} }

// Start builds the function from its environment. `func run
// --container=false` starts the process with PORT alone, so the variables
// func.yaml gives under run.envs (what a deployed function gets as its
// container environment) are applied here first.
func (f *Function) Start(ctx context.Context, _ map[string]string) error {
	if err := applyRunEnvs("func.yaml"); err != nil {
		return err
	}
	spec, err := functions.Lookup(f.name)
	if err != nil {
		return err
	}
	f.deps = &functions.Deps{}
	f.built, err = spec.Build(ctx, f.deps)
	if err != nil {
		return fmt.Errorf("build %s: %w", f.name, err)
	}
	return nil
}

// Stop releases the function's connections.
func (f *Function) Stop(context.Context) error {
	var errs []error
	if f.built != nil && f.built.Close != nil {
		errs = append(errs, f.built.Close())
	}
	if f.deps != nil {
		errs = append(errs, f.deps.Close())
	}
	return errors.Join(errs...)
}

// Ready is the function's own readiness check (Redis reachable).
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.built == nil {
		return false, nil
	}
	if f.built.Ready == nil {
		return true, nil
	}
	if err := f.built.Ready(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Handle passes the request to the geotrack handler.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, `{"error":"body: too large or unreadable"}`, http.StatusRequestEntityTooLarge)
		return
	}
	req := handler.Request{Body: body, Header: r.Header, QueryString: r.URL.RawQuery, Method: r.Method, Host: r.Host}
	req.WithContext(r.Context())
	resp, err := f.built.Handler.Handle(req)
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":%q}`, err.Error()), http.StatusInternalServerError)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

// applyRunEnvs sets the run.envs of a func.yaml that the environment does
// not already set.
func applyRunEnvs(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var manifest struct {
		Run struct {
			Envs []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"envs"`
		} `yaml:"run"`
	}
	if err := yaml.Unmarshal(data, &manifest); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	for _, e := range manifest.Run.Envs {
		if _, set := os.LookupEnv(e.Name); !set && e.Name != "" {
			if err := os.Setenv(e.Name, e.Value); err != nil {
				return fmt.Errorf("run.envs %s: %w", e.Name, err)
			}
		}
	}
	return nil
}
