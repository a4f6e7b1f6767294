package geofence

import (
	"encoding/json"
	"fmt"
)

type outFeature struct {
	Type       string        `json:"type"`
	ID         string        `json:"id,omitempty"`
	Geometry   outGeometry   `json:"geometry"`
	Properties outProperties `json:"properties"`
}

type outGeometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type outProperties struct {
	Name    string   `json:"name"`
	RadiusM float64  `json:"radius_m,omitempty"`
	DwellS  int      `json:"dwell_s,omitempty"`
	Devices []string `json:"devices,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

// Encode writes the fence as a GeoJSON Feature: what GET returns and what
// the store keeps. Rings follow the right-hand rule; altitudes are dropped.
func Encode(f *Fence) ([]byte, error) {
	out := outFeature{Type: "Feature", ID: f.ID, Properties: outProperties{
		Name: f.Name, DwellS: f.DwellS, Devices: f.Devices, Tags: f.Tags,
	}}
	switch {
	case f.Kind == KindCircle:
		out.Geometry = outGeometry{Type: "Point", Coordinates: f.Center}
		out.Properties.RadiusM = f.RadiusM
	case len(f.Shape) == 1:
		out.Geometry = outGeometry{Type: "Polygon", Coordinates: f.Shape[0]}
	default:
		out.Geometry = outGeometry{Type: "MultiPolygon", Coordinates: f.Shape}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode fence %q: %w", f.ID, err)
	}
	return b, nil
}
