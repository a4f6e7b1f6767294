// Package testenv starts real servers (redis-server, Redis Cluster,
// nats-server) for integration and end-to-end tests, and offers small
// helpers such as FreePort and WaitHTTP.
//
// It is the testing face of internal/localserver, which does the work:
// servers bind to 127.0.0.1 only, live in a per-test temp dir and are stopped
// by PID in t.Cleanup (SIGTERM, then SIGKILL after a grace period), with a
// parent-death signal so that a test binary killed by `go test -timeout`
// does not leak servers. A missing binary is a test failure with an install
// hint, never a skip: a skipped integration test is indistinguishable from a
// passing one in CI output.
package testenv
