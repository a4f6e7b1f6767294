package gpx

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// charsetReader lets encoding/xml read GPX files declared as Latin-1 or
// Windows-1252, which older Garmin and desktop tools still write. The two
// differ at 0x80–0x9F: control codes in ISO-8859-1, printable characters
// (€, curly quotes, dashes) in Windows-1252, so each gets its own table.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii", "utf8", "utf-8":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1":
		return charmap.ISO8859_1.NewDecoder().Reader(input), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(input), nil
	}
	return nil, fmt.Errorf("unsupported charset %q (use UTF-8)", charset)
}
