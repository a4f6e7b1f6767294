package validate

import (
	"bytes"
	"fmt"
	"os"

	"github.com/geotrack/geotrack/internal/stack"
)

// The stack.yml schema and its accessors live in the main module's
// internal/stack (one definition for the dev runner, the pack's stack test
// and these deploy checks).
type (
	Stack          = stack.File
	StackFunction  = stack.Function
	StackResources = stack.Resources
)

// Annotation keys geotrack adds next to the connector ones.
const (
	AnnotationSubscribes = stack.SubscribesAnnotation
	AnnotationEmits      = stack.EmitsAnnotation
	CronTopic            = stack.CronTopic
)

// LoadStack reads and strictly decodes a stack file, expanding ${VAR:-default}
// to its default so the result does not depend on the caller's environment.
func LoadStack(path string) (*Stack, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack: %w", err)
	}
	s, err := stack.ParseStrict(raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &s, nil
}

// ExpandDefaults replaces ${VAR:-default} with default and ${VAR} with "".
func ExpandDefaults(s string) string { return stack.ExpandDefaults(s) }

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
