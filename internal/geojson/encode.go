package geojson

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/geotrack/geotrack/internal/fix"
)

type featureCollection struct {
	Type     string    `json:"type"`
	Features []feature `json:"features"`
}

type feature struct {
	Type       string     `json:"type"`
	Geometry   geometry   `json:"geometry"`
	Properties trackProps `json:"properties"`
}

type geometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type trackProps struct {
	Device     string   `json:"device"`
	Time       string   `json:"time,omitempty"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	CoordTimes []string `json:"coordTimes"`
}

// EncodeTrack writes fixes, in the order given, as a FeatureCollection with
// one Feature: a LineString of [lon, lat] or [lon, lat, alt] positions
// (alt only where the fix has one) with properties device, coordTimes (one
// RFC 3339 ms UTC time per position), start and end.
//
// RFC 7946 requires two positions in a LineString, so a single fix becomes a
// Point feature instead (with "time" as well as a one-element coordTimes),
// rather than a LineString repeating the point, which would invent a second
// fix. No fixes give an empty FeatureCollection. Decode reads all of these
// back to the same lat/lon/alt and ms-truncated times. Non-finite numbers are
// an error: JSON cannot carry them.
func EncodeTrack(w io.Writer, device string, fixes []fix.Fix) error {
	fc := featureCollection{Type: "FeatureCollection", Features: []feature{}}
	if len(fixes) > 0 {
		positions := make([][]float64, len(fixes))
		times := make([]string, len(fixes))
		for i, f := range fixes {
			pos, err := toPosition(f)
			if err != nil {
				return fmt.Errorf("encode geojson fix %d: %w", i, err)
			}
			positions[i], times[i] = pos, fix.FormatTime(f.TS)
		}
		props := trackProps{Device: device, Start: times[0], End: times[len(times)-1], CoordTimes: times}
		g := geometry{Type: "LineString", Coordinates: positions}
		if len(fixes) == 1 {
			g = geometry{Type: "Point", Coordinates: positions[0]}
			props.Time = times[0]
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", Geometry: g, Properties: props})
	}
	if err := json.NewEncoder(w).Encode(fc); err != nil {
		return fmt.Errorf("encode geojson track: %w", err)
	}
	return nil
}

func toPosition(f fix.Fix) ([]float64, error) {
	pos := []float64{f.Lon, f.Lat}
	if f.Alt != nil {
		pos = append(pos, *f.Alt)
	}
	for _, v := range pos {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("position %v is not finite", pos)
		}
	}
	return pos, nil
}
