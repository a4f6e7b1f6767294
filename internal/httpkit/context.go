package httpkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
)

// call is what the kit puts in each request's context.
type call struct {
	id     string
	log    *slog.Logger
	remote string                  // client address (see Remote)
	caller *atomic.Pointer[caller] // set by Authenticate; read after the handler
}

type callKey struct{}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *call {
	if ctx == nil {
		return nil
	}
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// LoggerFrom returns the request logger (carrying function, call_id and, for
// binary-mode CloudEvents, ce_id), or slog.Default() outside a request.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if c := callFrom(ctx); c != nil {
		return c.log
	}
	return slog.Default()
}

// CallID returns the request's call id, or "" outside a request.
func CallID(ctx context.Context) string {
	if c := callFrom(ctx); c != nil {
		return c.id
	}
	return ""
}

// WithLogAttrs returns ctx whose logger also carries attrs (slog key-value
// pairs or slog.Attr), e.g. the CloudEvent id of a structured-mode event
// that only the function can see.
func WithLogAttrs(ctx context.Context, attrs ...any) context.Context {
	c := callFrom(ctx)
	if c == nil {
		return withCall(ctx, &call{log: slog.Default().With(attrs...)})
	}
	return withCall(ctx, &call{id: c.id, log: c.log.With(attrs...), remote: c.remote, caller: c.caller})
}

// maxCallID bounds an incoming X-Call-Id; the gateway sends UUIDs.
const maxCallID = 128

// callIDFrom keeps a caller's X-Call-Id when it is a sane token and makes a
// new one otherwise, so ids can be logged and echoed without injection.
func callIDFrom(header string) string {
	if header != "" && len(header) <= maxCallID && isToken(header) {
		return header
	}
	return newCallID()
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}
