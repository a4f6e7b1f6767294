package validate

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Stack mirrors the faas-cli stack file schema (the subset geotrack uses).
type Stack struct {
	Version   string                   `json:"version"`
	Provider  StackProvider            `json:"provider"`
	Functions map[string]StackFunction `json:"functions"`
}

// StackProvider is stack.yml's provider block.
type StackProvider struct {
	Name    string `json:"name"`
	Gateway string `json:"gateway"`
}

// StackFunction is one stack.yml function entry.
type StackFunction struct {
	Lang                   string            `json:"lang"`
	Handler                string            `json:"handler"`
	Image                  string            `json:"image"`
	BuildArgs              map[string]string `json:"build_args"`
	Platforms              string            `json:"platforms,omitempty"`
	Environment            map[string]string `json:"environment"`
	Secrets                []string          `json:"secrets"`
	Labels                 map[string]string `json:"labels"`
	Annotations            map[string]string `json:"annotations"`
	Requests               *StackResources   `json:"requests"`
	Limits                 *StackResources   `json:"limits"`
	ReadOnlyRootFilesystem bool              `json:"readonly_root_filesystem"`
}

// StackResources is a requests/limits block.
type StackResources struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Annotation keys geotrack adds next to the connector ones.
const (
	AnnotationSubscribes = "geotrack.io/subscribes"
	AnnotationEmits      = "geotrack.io/emits"
	CronTopic            = "cron-function"
)

// LoadStack reads and strictly decodes a stack file, expanding ${VAR:-default}
// to its default so the result does not depend on the caller's environment.
func LoadStack(path string) (*Stack, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack: %w", err)
	}
	var s Stack
	if err := yaml.UnmarshalStrict([]byte(ExpandDefaults(string(raw))), &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &s, nil
}

// ExpandDefaults replaces ${VAR:-default} with default and ${VAR} with "".
func ExpandDefaults(s string) string {
	return os.Expand(s, func(name string) string {
		if _, def, ok := strings.Cut(name, ":-"); ok {
			return def
		}
		return ""
	})
}

// Subscriptions are the event types the function is triggered by: the
// `topic` entries other than cron-function, plus geotrack.io/subscribes.
func (f StackFunction) Subscriptions() []string {
	var out []string
	for _, t := range splitList(f.Annotations["topic"]) {
		if t != CronTopic {
			out = append(out, t)
		}
	}
	out = append(out, splitList(f.Annotations[AnnotationSubscribes])...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Emits lists geotrack.io/emits.
func (f StackFunction) Emits() []string {
	out := splitList(f.Annotations[AnnotationEmits])
	slices.Sort(out)
	return out
}

// Schedule is the cron schedule when the function is a cron-function.
func (f StackFunction) Schedule() string {
	if f.Annotations["topic"] == CronTopic {
		return f.Annotations["schedule"]
	}
	return ""
}

// Edge reports whether the function is built for arm64 edge nodes too.
func (f StackFunction) Edge() bool {
	return slices.Contains(splitList(f.Platforms), "linux/arm64")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Names returns the function names in order.
func (s *Stack) Names() []string {
	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// emptyDoc reports whether a YAML document holds only comments/whitespace.
func emptyDoc(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) != 0 && t[0] != '#' {
			return false
		}
	}
	return true
}
