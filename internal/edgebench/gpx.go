package edgebench

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
)

var notDeviceChar = regexp.MustCompile(`[^A-Za-z0-9._:-]+`)

// LoadGPXDir reads every *.gpx in dir with the production GPX decoder, keyed
// by file name without extension, which is also used as the device id.
func LoadGPXDir(dir string) (map[string][]fix.Fix, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.gpx"))
	if err != nil {
		return nil, fmt.Errorf("list gpx files in %s: %w", dir, err)
	}
	slices.Sort(paths)
	tracks := map[string][]fix.Fix{}
	for _, p := range paths {
		name := notDeviceChar.ReplaceAllString(strings.TrimSuffix(filepath.Base(p), ".gpx"), "_")
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read gpx: %w", err)
		}
		fixes, err := gpx.Decode(f, name, 0)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		tracks[name] = fixes
	}
	return tracks, nil
}
