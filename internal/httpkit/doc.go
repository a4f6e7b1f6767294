// Package httpkit serves any geotrack function — an OpenFaaS go-http SDK
// handler.FunctionHandler — over HTTP, so one binary runs unchanged under
// OpenFaaS (of-watchdog http mode), Knative and locally.
//
// It adds what every function needs and none should write: a body size
// limit, a bound on concurrent requests, a handler deadline, panic recovery,
// a call id and a request-scoped logger, Prometheus metrics, health and
// readiness probes, and a graceful drain on SIGTERM.
//
// Startup is kept cheap (no goroutines or work beyond the listener) because
// functions are cold-started.
package httpkit
