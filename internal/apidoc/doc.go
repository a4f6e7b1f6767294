// Package apidoc holds the tests that keep openapi.yaml in step with the functions' code.
package apidoc
