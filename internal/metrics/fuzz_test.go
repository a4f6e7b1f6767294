package metrics

import (
	"strings"
	"testing"
)

// unescapeLabelValue inverts the exposition escaping, failing on sequences
// the format does not define.
func unescapeLabelValue(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case '"':
			b.WriteByte('"')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// FuzzLabelValueEscaping checks that any label value and help text yields
// exactly one HELP, one TYPE and one sample line, and that the label value
// reads back unchanged.
func FuzzLabelValueEscaping(f *testing.F) {
	for _, seed := range []struct{ value, help string }{
		{"plain", "help"}, {`a\b`, `x\y`}, {`"q"`, "multi\nline"}, {"\n\n", "\\n"}, {"", ""}, {"Zürich", "東京"},
		{`\"\\n`, `"`}, {"\x00\xff", "\r"},
	} {
		f.Add(seed.value, seed.help)
	}
	f.Fuzz(func(t *testing.T, value, help string) {
		r := NewRegistry()
		r.NewCounterVec("fuzz_total", help, "v").With(value).Inc()
		out := render(t, r)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("want 3 lines, got %d: %q", len(lines), out)
		}
		const prefix, suffix = `fuzz_total{v="`, `"} 1`
		sample := lines[2]
		if !strings.HasPrefix(sample, prefix) || !strings.HasSuffix(sample, suffix) {
			t.Fatalf("malformed sample line %q", sample)
		}
		escaped := sample[len(prefix) : len(sample)-len(suffix)]
		got, ok := unescapeLabelValue(escaped)
		if !ok || got != value {
			t.Fatalf("label value %q came back as %q (ok=%v)", value, got, ok)
		}
		if lines[1] != "# TYPE fuzz_total counter" {
			t.Fatalf("TYPE line %q", lines[1])
		}
	})
}
