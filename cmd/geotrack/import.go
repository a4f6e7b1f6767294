package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	device := fs.String("device", "", "device id the fixes belong to; it wins over a GeoJSON feature's properties.device (required for GPX, optional for GeoJSON whose features name their device)")
	format := fs.String("format", "", "gpx or geojson (default: from the file extension)")
	concurrency := fs.Int("concurrency", 2, "requests in flight")
	sf := addSendFlags(fs, sender.DefaultBatchSize)
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import: give one file: geotrack import FILE --device D")
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
	fmt.Fprintf(os.Stderr, "import: %d fixes of %s as %s → %s\n", len(fixes), path, devicesUsed(fixes), *sf.url)
	p := newProgress(os.Stderr)
	tot, err := s.Send(ctx, fixes, func(sent, total int) { p.Bar(sent, total) })
	p.FinishBar(tot.Sent(), len(fixes))
	return report(os.Stderr, "import ("+devicesUsed(fixes)+")", tot, err)
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

// readTrack decodes a GPX or GeoJSON file. An explicit device wins over the
// properties.device of GeoJSON features; without one, GeoJSON features must
// name their device and GPX is refused.
func readTrack(path, format, device string) ([]fix.Fix, error) {
	kind, err := trackFormat(path, format)
	if err != nil {
		return nil, err
	}
	if kind == "gpx" {
		if device == "" {
			return nil, errors.New("--device is required for GPX files")
		}
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
	if device != "" {
		for i := range fixes {
			fixes[i].Device = device
		}
	}
	return fixes, nil
}

// devicesUsed names the devices of fixes for the result line: "device d",
// "devices a, b" or "devices a, b, c and 4 more".
func devicesUsed(fixes []fix.Fix) string {
	seen := map[string]bool{}
	var names []string
	for _, f := range fixes {
		if !seen[f.Device] {
			seen[f.Device] = true
			names = append(names, f.Device)
		}
	}
	sort.Strings(names)
	switch {
	case len(names) == 1:
		return "device " + names[0]
	case len(names) > 3:
		return fmt.Sprintf("devices %s and %d more", strings.Join(names[:3], ", "), len(names)-3)
	}
	return "devices " + strings.Join(names, ", ")
}
