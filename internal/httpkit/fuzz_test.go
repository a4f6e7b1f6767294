package httpkit

import (
	"testing"
)

// FuzzCallID checks that whatever a caller sends as X-Call-Id, the id the
// runtime logs and echoes is a bounded token, and a sane one is kept.
func FuzzCallID(f *testing.F) {
	for _, s := range []string{"", "6f1c3a7e-9b2d-4c1e-8f00-1234567890ab", "a b", "x\r\nSet-Cookie: y", "é", string(make([]byte, 200))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id := callIDFrom(header)
		if id == "" || len(id) > maxCallID || !isToken(id) {
			t.Fatalf("callIDFrom(%q) = %q: not a bounded token", header, id)
		}
		if header != "" && len(header) <= maxCallID && isToken(header) && id != header {
			t.Fatalf("callIDFrom(%q) = %q: a valid id was replaced", header, id)
		}
	})
}
