package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStringAndPrefix(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		n          int
		wantString string
		wantPrefix string
	}{
		{"short kept", "abc", 5, "abc", "abc"},
		{"exact kept", "abcde", 5, "abcde", "abcde"},
		{"ascii cut", "abcdefgh", 5, "abcde…", "abcde"},
		{"never splits a rune", "Zürich", 2, "Z…", "Z"},      // ü is 2 bytes at 1..2
		{"rune that fits is kept", "Zürich", 3, "Zü…", "Zü"}, // cut after ü
		{"4-byte rune", "a😀b", 3, "a…", "a"},
		{"zero", "abc", 0, "…", ""},
		{"empty", "", 3, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := String(c.in, c.n); got != c.wantString {
				t.Errorf("String(%q, %d) = %q, want %q", c.in, c.n, got, c.wantString)
			}
			got := Prefix(c.in, c.n)
			if got != c.wantPrefix {
				t.Errorf("Prefix(%q, %d) = %q, want %q", c.in, c.n, got, c.wantPrefix)
			}
			if !utf8.ValidString(got) || len(got) > max(c.n, 0) && len(c.in) > c.n {
				t.Errorf("Prefix(%q, %d) = %q: invalid UTF-8 or too long", c.in, c.n, got)
			}
		})
	}
	long := strings.Repeat("é", 100)
	if got := String(long, 41); !utf8.ValidString(got) || len(got) > 41+len(Ellipsis) {
		t.Fatalf("String of 200 bytes to 41 = %q (%d bytes)", got, len(got))
	}
}
