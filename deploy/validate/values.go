package validate

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// The chart's values.yaml carries a functions: block generated from stack.yml
// between these markers, so the chart and faas-cli deploy the same functions
// with the same settings.
const (
	BeginGenerated = "# BEGIN functions (generated from stack.yml by `go run ./cmd/genvalues` in deploy/validate; do not edit)"
	EndGenerated   = "# END functions"
)

// FunctionValues is one entry of the chart's functions map.
type FunctionValues struct {
	Enabled    bool              `json:"enabled"`
	Edge       bool              `json:"edge"`
	Env        map[string]string `json:"env"`
	Secrets    []string          `json:"secrets"`
	Subscribes []string          `json:"subscribes"`
	Emits      []string          `json:"emits"`
	Schedule   string            `json:"schedule"`
	Scale      ScaleValues       `json:"scale"`
	Resources  ResourceValues    `json:"resources"`
}

// ScaleValues maps the OpenFaaS scale labels onto every platform.
type ScaleValues struct {
	Min         int  `json:"min"`
	Max         int  `json:"max"`
	Zero        bool `json:"zero"`
	Concurrency int  `json:"concurrency"`
}

// ResourceValues is a Kubernetes resources block.
type ResourceValues struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// FunctionsFromStack converts stack.yml entries into chart values.
func FunctionsFromStack(s *Stack) (map[string]FunctionValues, error) {
	out := make(map[string]FunctionValues, len(s.Functions))
	for _, name := range s.Names() {
		f := s.Functions[name]
		min, err := labelInt(f.Labels, "com.openfaas.scale.min", 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		max, err := labelInt(f.Labels, "com.openfaas.scale.max", 20)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		conc, err := labelInt(f.Environment, "MAX_INFLIGHT", 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		v := FunctionValues{
			Enabled:    true,
			Edge:       f.Edge(),
			Env:        nonNilMap(f.Environment),
			Secrets:    nonNilSlice(f.Secrets),
			Subscribes: nonNilSlice(f.Subscriptions()),
			Emits:      nonNilSlice(f.Emits()),
			Schedule:   f.Schedule(),
			Scale:      ScaleValues{Min: min, Max: max, Zero: f.Labels["com.openfaas.scale.zero"] == "true", Concurrency: conc},
			Resources:  ResourceValues{Requests: resMap(f.Requests), Limits: resMap(f.Limits)},
		}
		out[name] = v
	}
	return out, nil
}

// GeneratedBlock renders the functions: block including its markers.
func GeneratedBlock(s *Stack) ([]byte, error) {
	fns, err := FunctionsFromStack(s)
	if err != nil {
		return nil, err
	}
	body, err := yaml.Marshal(map[string]any{"functions": fns})
	if err != nil {
		return nil, fmt.Errorf("marshal functions: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(BeginGenerated + "\n")
	b.Write(body)
	b.WriteString(EndGenerated + "\n")
	return b.Bytes(), nil
}

// ReplaceGenerated swaps the generated block of values.yaml for block.
func ReplaceGenerated(values, block []byte) ([]byte, error) {
	start := bytes.Index(values, []byte(BeginGenerated))
	end := bytes.Index(values, []byte(EndGenerated))
	if start < 0 || end < start {
		return nil, fmt.Errorf("values.yaml has no %q ... %q block", BeginGenerated, EndGenerated)
	}
	end += len(EndGenerated)
	if end < len(values) && values[end] == '\n' {
		end++
	}
	out := append([]byte{}, values[:start]...)
	out = append(out, block...)
	return append(out, values[end:]...), nil
}

func labelInt(m map[string]string, key string, def int) (int, error) {
	s, ok := m[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer: %w", key, s, err)
	}
	return n, nil
}

func resMap(r *StackResources) map[string]string {
	if r == nil {
		return nil
	}
	m := map[string]string{}
	if r.CPU != "" {
		m["cpu"] = r.CPU
	}
	if r.Memory != "" {
		m["memory"] = r.Memory
	}
	return m
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
