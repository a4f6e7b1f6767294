// Package stack reads the parts of an OpenFaaS stack.yml that geotrack's
// tools act on: which function is triggered by which topic.
package stack

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Function is the subset of a stack.yml function entry geotrack reads.
type Function struct {
	Annotations map[string]string `yaml:"annotations"`
	Environment map[string]string `yaml:"environment"`
}

// File is the subset of stack.yml geotrack reads.
type File struct {
	Functions map[string]Function `yaml:"functions"`
}

// CronTopic is the cron-connector's topic.
const CronTopic = "cron-function"

// SubscribesAnnotation lists extra event types of a scheduled function
// (whose topic must be exactly cron-function).
const SubscribesAnnotation = "geotrack.io/subscribes"

// Parse reads stack.yml.
func Parse(data []byte) (File, error) {
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return File{}, fmt.Errorf("parse stack.yml: %w", err)
	}
	return f, nil
}

// Subscribers maps each event type to the functions it triggers, from the
// `topic` annotations (comma-separated, as the connector-sdk reads them).
func (f File) Subscribers() map[string][]string {
	out := map[string][]string{}
	for name, fn := range f.Functions {
		for _, key := range []string{"topic", SubscribesAnnotation} {
			for _, t := range strings.Split(fn.Annotations[key], ",") {
				t = strings.TrimSpace(t)
				if t == "" || t == CronTopic {
					continue
				}
				out[t] = append(out[t], name)
			}
		}
	}
	for t := range out {
		sort.Strings(out[t])
	}
	return out
}
