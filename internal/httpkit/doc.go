// Package httpkit is the HTTP kit of the function pack: everything a
// geotrack function needs around its own logic, in one place.
//
// Serving (serve.go, handler.go, mux.go): any function — an OpenFaaS go-http
// SDK handler.FunctionHandler — runs over HTTP, unchanged under OpenFaaS
// (of-watchdog http mode), Knative and locally, with a body size limit, a
// bound on concurrent requests, a handler deadline, panic recovery, a call
// id and a request-scoped logger, Prometheus metrics, health and readiness
// probes, and a graceful drain on SIGTERM. Startup is kept cheap (no
// goroutines or work beyond the listener) because functions are
// cold-started.
//
// Inside a function: Authenticate and AuthorizeRead (gate.go) guard the
// request, QueryFloat/QueryInt/QueryTime (query.go) read parameters, JSON
// and Raw (respond.go) build responses, and Error with FromError
// (errors.go) is the one way a failure becomes a status: a function returns
// errors and ends with Respond. A function with long answers (track's
// exports) also implements Streamer (stream.go): the runtime then writes
// its body as it is produced instead of buffering it, while Handle keeps
// working under the OpenFaaS template.
package httpkit
