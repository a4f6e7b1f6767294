package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geojson"
	"github.com/geotrack/geotrack/internal/sender"
)

func init() {
	register(command{name: "import", summary: "send a .gpx or .geojson file to ingest: import FILE --device D [--url U]", run: runImport})
}

func runImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	device := fs.String("device", "", "device id the fixes belong to (required; a GeoJSON feature's properties.device overrides it)")
	format := fs.String("format", "", "gpx or geojson (default: from the file extension)")
	concurrency := fs.Int("concurrency", 2, "requests in flight")
	sf := addSendFlags(fs, sender.DefaultBatchSize)
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import: give one file: geotrack import FILE --device D")
	}
	if *device == "" {
		return errors.New("import: --device is required")
	}
	path := fs.Arg(0)
	fixes, err := readTrack(path, *format, *device)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fixes = dropInvalid(fixes, time.Now())
	if len(fixes) == 0 {
		return fmt.Errorf("import %s: %w", path, errNoFixes)
	}
	s, err := sf.sender("urn:geotrack:import", *concurrency)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "import: %d fixes of %s → %s\n", len(fixes), path, *sf.url)
	p := newProgress(os.Stderr)
	tot, err := s.Send(ctx, fixes, func(sent, total int) { p.Bar(sent, total) })
	p.FinishBar(tot.Sent(), len(fixes))
	return report("import", tot, err)
}

// trackFormat picks the decoder from an explicit format or the extension.
func trackFormat(path, format string) (string, error) {
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	}
	switch format {
	case "gpx":
		return "gpx", nil
	case "geojson", "json":
		return "geojson", nil
	}
	return "", fmt.Errorf("%s: cannot tell the format (want .gpx, .geojson or .json, or pass --format gpx|geojson)", path)
}

func readTrack(path, format, device string) ([]fix.Fix, error) {
	kind, err := trackFormat(path, format)
	if err != nil {
		return nil, err
	}
	if kind == "gpx" {
		return readGPX(path, device)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fixes, err := geojson.Decode(data, device)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fixes, nil
}
