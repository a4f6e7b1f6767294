package httpkit

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
)

// Access is one served request as an audit trail sees it: who (the
// principal Authenticate verified), what (function, method, query without
// credentials), when, from where and how it ended.
type Access struct {
	Function  string
	Method    string
	Query     url.Values
	Status    int
	Principal auth.Principal
	Remote    string
	At        time.Time
}

// Auditor records accesses. A Verifier that is also an Auditor gets every
// request it authenticated and the handler answered with a success, after
// the handler and before the response is sent: Audit returns once the
// access is recorded (or it gave up), so a client that has its answer
// finds it in the trail. It must be quick and bounded (batch concurrent
// accesses into one write); it cannot change the response.
type Auditor interface {
	Audit(Access)
}

// caller is what Authenticate learnt about a request.
type caller struct {
	p       auth.Principal
	auditor Auditor
}

// noteCaller keeps p (and v when it audits) on the request, for the access
// record the kit writes once the handler returned.
func noteCaller(ctx context.Context, p auth.Principal, v Verifier) {
	c := callFrom(ctx)
	if c == nil || c.caller == nil {
		return
	}
	a, _ := v.(Auditor)
	c.caller.Store(&caller{p: p, auditor: a})
}

// Remote returns the client address of the request: the peer, or, when the
// peer is a trusted proxy (TRUSTED_PROXIES), the nearest address in
// X-Forwarded-For that is not one. "" outside a request.
func Remote(ctx context.Context) string {
	if c := callFrom(ctx); c != nil {
		return c.remote
	}
	return ""
}

// audit hands a successful access to the auditor of the request's
// verifier, if any.
func (h *functionHandler) audit(c *call, r *http.Request, res result, at time.Time) {
	if c == nil || c.caller == nil || res.panic != nil || res.err != nil {
		return
	}
	status := res.resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 400 {
		return
	}
	who := c.caller.Load()
	if who == nil || who.auditor == nil {
		return
	}
	q := r.URL.Query()
	q.Del("token") // a credential, never recorded
	who.auditor.Audit(Access{
		Function: h.opts.Name, Method: r.Method, Query: q, Status: status,
		Principal: who.p, Remote: c.remote, At: at,
	})
}

// ParseTrustedProxies reads TRUSTED_PROXIES: comma-separated CIDRs or
// addresses of the proxies whose X-Forwarded-For is believed.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr is the peer of r, or, behind trusted proxies, the right-most
// X-Forwarded-For entry that is not a trusted proxy (entries left of it are
// whatever the client claimed).
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 || !isTrusted(host, trusted) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			return host // garbage in the chain: believe only the peer
		}
		if !isTrusted(hop, trusted) {
			return hop
		}
	}
	return host
}

func isTrusted(addr string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// callerSlot is a fresh place for Authenticate to note the caller.
func callerSlot() *atomic.Pointer[caller] { return new(atomic.Pointer[caller]) }
