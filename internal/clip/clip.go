// Package clip shortens strings quoted in error messages and logs, so a
// hostile or broken input cannot blow them up. It cuts at a UTF-8 rune
// boundary: a message must stay valid UTF-8 whatever it quotes.
package clip

import "unicode/utf8"

// Ellipsis marks a string that String shortened.
const Ellipsis = "…"

// String returns s if it is at most n bytes long, else its longest prefix of
// at most n bytes that ends on a rune boundary, followed by Ellipsis.
func String(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Prefix(s, n) + Ellipsis
}

// Prefix returns the longest prefix of s of at most n bytes that ends on a
// rune boundary, without a marker: for values of bounded width such as ids
// in log fields.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	cut := n
	// Step back over continuation bytes to the start of the rune at cut.
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
