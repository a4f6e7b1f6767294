// Package geotrack embeds the pack's deployment descriptor so the local dev
// runner routes events exactly as stack.yml subscribes functions to them.
package geotrack

import _ "embed"

// StackYAML is stack.yml, the OpenFaaS descriptor of every function.
//
//go:embed stack.yml
var StackYAML []byte
