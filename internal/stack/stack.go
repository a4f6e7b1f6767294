// Package stack reads an OpenFaaS stack.yml: strictly (every field of the
// faas-cli schema that geotrack uses, any other field an error) for the
// checks in tests, and for the local dev runner's event routing.
package stack

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File mirrors the faas-cli stack schema for the fields geotrack uses.
type File struct {
	Version  string `yaml:"version"`
	Provider struct {
		Name    string `yaml:"name"`
		Gateway string `yaml:"gateway"`
	} `yaml:"provider"`
	Functions map[string]Function `yaml:"functions"`
}

// Function is one stack.yml function entry.
type Function struct {
	Lang                   string            `yaml:"lang"`
	Handler                string            `yaml:"handler"`
	Image                  string            `yaml:"image"`
	BuildArgs              map[string]string `yaml:"build_args"`
	Platforms              string            `yaml:"platforms"`
	Environment            map[string]string `yaml:"environment"`
	Secrets                []string          `yaml:"secrets"`
	Labels                 map[string]string `yaml:"labels"`
	Annotations            map[string]string `yaml:"annotations"`
	Requests               *Resources        `yaml:"requests"`
	Limits                 *Resources        `yaml:"limits"`
	ReadOnlyRootFilesystem bool              `yaml:"readonly_root_filesystem"`
}

// Resources is a requests/limits block.
type Resources struct {
	CPU    string `yaml:"cpu"`
	Memory string `yaml:"memory"`
}

// Topics and annotations geotrack reads.
const (
	// CronTopic is the cron-connector's topic.
	CronTopic = "cron-function"
	// SubscribesAnnotation lists extra event types of a scheduled function
	// (whose topic must be exactly cron-function).
	SubscribesAnnotation = "geotrack.io/subscribes"
	// EmitsAnnotation lists the event types a function emits.
	EmitsAnnotation = "geotrack.io/emits"
	// EdgeAnnotation "true" places a function on edge nodes (the chart's
	// edge: scheduling). Its platforms say only what it is built for.
	EdgeAnnotation = "geotrack.io/edge"
)

// Parse reads stack.yml leniently (unknown fields ignored), as the dev
// runner does with the embedded copy.
func Parse(data []byte) (File, error) {
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return File{}, fmt.Errorf("parse stack.yml: %w", err)
	}
	return f, nil
}

// ParseStrict reads stack.yml with ${VAR:-default} expanded to its default
// and every unknown or misspelt field an error.
func ParseStrict(data []byte) (File, error) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(ExpandDefaults(string(data)))))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("parse stack.yml: %w", err)
	}
	return f, nil
}

// ExpandDefaults applies faas-cli's ${VAR:-default} substitution using only
// the defaults, so the result does not depend on the caller's environment.
func ExpandDefaults(s string) string {
	return os.Expand(s, func(name string) string {
		if _, def, ok := strings.Cut(name, ":-"); ok {
			return def
		}
		return ""
	})
}

// Subscribers maps each event type to the functions it triggers, from the
// `topic` annotations (comma-separated, as the connector-sdk reads them).
func (f File) Subscribers() map[string][]string {
	out := map[string][]string{}
	for _, name := range f.Names() {
		for _, t := range f.Functions[name].Subscriptions() {
			out[t] = append(out[t], name)
		}
	}
	return out
}

// Subscriptions are the event types the function is triggered by: the
// `topic` entries other than cron-function, plus geotrack.io/subscribes.
func (f Function) Subscriptions() []string {
	var out []string
	for _, t := range List(f.Annotations["topic"]) {
		if t != CronTopic {
			out = append(out, t)
		}
	}
	out = append(out, List(f.Annotations[SubscribesAnnotation])...)
	return sortedSet(out)
}

// Emits lists geotrack.io/emits.
func (f Function) Emits() []string { return sortedSet(List(f.Annotations[EmitsAnnotation])) }

// Schedule is the cron schedule when the function is a cron-function.
func (f Function) Schedule() string {
	if f.Annotations["topic"] == CronTopic {
		return f.Annotations["schedule"]
	}
	return ""
}

// Edge reports whether the function is placed on edge nodes
// (geotrack.io/edge: "true").
func (f Function) Edge() bool { return f.Annotations[EdgeAnnotation] == "true" }

// MultiArch reports whether the function is built for arm64 too, as every
// function an edge site runs is.
func (f Function) MultiArch() bool { return slices.Contains(List(f.Platforms), "linux/arm64") }

// Names returns the function names in order.
func (f File) Names() []string {
	names := make([]string, 0, len(f.Functions))
	for n := range f.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// List splits a comma-separated annotation, trimming blanks.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
