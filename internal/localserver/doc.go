// Package localserver starts and stops the servers geotrack runs next to
// itself on one machine: redis-server, a Redis Cluster of redis-servers,
// nats-server and minio (the archive's object store). It is the one launcher of the repository: the tests use it
// through internal/testenv, `geotrack dev` for its Redis and `geotrack bench`
// for a private Redis.
//
// Servers bind to 127.0.0.1 only, keep their data and log in a directory the
// caller names, and are stopped by PID (SIGTERM, then SIGKILL after a grace
// period) and reaped. On Linux they get a parent-death signal, so a caller
// that dies without stopping them does not leak servers.
package localserver
