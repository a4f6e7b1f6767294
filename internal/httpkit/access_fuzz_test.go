package httpkit

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseTrustedProxies: TRUSTED_PROXIES never panics, and what it
// accepts yields a client address that is the peer or an address of the
// X-Forwarded-For chain, never anything else.
func FuzzParseTrustedProxies(f *testing.F) {
	f.Add("10.0.0.0/8, 192.168.1.1", "1.2.3.4, 10.0.0.9")
	f.Add("::1/128", "")
	f.Add("0.0.0.0/0", "x, y")
	f.Fuzz(func(t *testing.T, proxies, xff string) {
		trusted, err := ParseTrustedProxies(proxies)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.1.1:1234"
		r.Header.Set("X-Forwarded-For", xff)
		got := clientAddr(r, trusted)
		if got != "10.1.1.1" && !strings.Contains(xff, got) {
			t.Fatalf("client %q is neither the peer nor in %q", got, xff)
		}
	})
}
