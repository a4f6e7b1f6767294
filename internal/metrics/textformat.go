package metrics

import (
	"bytes"
	"math"
	"strconv"
)

// writeEscapedHelp escapes a HELP text: backslash and newline only.
func writeEscapedHelp(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
}

// writeEscapedLabelValue escapes a label value: backslash, double quote and
// newline. Other bytes (UTF-8 included) are written as they are.
func writeEscapedLabelValue(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
}

// writeFloat uses the spellings the format defines for the special values.
func writeFloat(b *bytes.Buffer, v float64) {
	switch {
	case math.IsInf(v, +1):
		b.WriteString("+Inf")
	case math.IsInf(v, -1):
		b.WriteString("-Inf")
	case math.IsNaN(v):
		b.WriteString("NaN")
	default:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
	}
}

// writeSample writes `name{l1="v1",...,extraName="extraValue"} value\n`;
// extraName is the histogram's "le" or empty.
func writeSample(b *bytes.Buffer, name string, labels, values []string, extraName, extraValue string, v float64) {
	b.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			writeEscapedLabelValue(b, values[i])
			b.WriteByte('"')
		}
		if extraName != "" {
			if len(labels) > 0 {
				b.WriteByte(',')
			}
			b.WriteString(extraName)
			b.WriteString(`="`)
			b.WriteString(extraValue)
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	writeFloat(b, v)
	b.WriteByte('\n')
}

// formatBound renders a bucket bound for the le label.
func formatBound(v float64) string {
	var b bytes.Buffer
	writeFloat(&b, v)
	return b.String()
}
