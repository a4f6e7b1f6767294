// Package geofence is the geofence domain: the fence model and its
// validation (GeoJSON per RFC 7946), a spatial index of a tenant's fences,
// and the evaluator that turns a device's fixes into entered, exited and
// dwelled transitions with hysteresis against GPS noise.
//
// Geometry goes through github.com/paulmach/orb (model, point-to-segment
// distance, haversine), github.com/tidwall/geojson/geometry (indexed ring
// containment and crossing) and github.com/tidwall/rtree
// (bounding-box index); nothing here is a hand-written point-in-polygon.
package geofence

import (
	"math"

	"github.com/paulmach/orb"
)

// Limits (public contract).
const (
	MaxVertices    = 10000  // positions of one fence, all rings together
	MinRadiusM     = 1.0    // circle radius bounds, metres
	MaxRadiusM     = 100000 //
	MaxNameLen     = 200
	MaxDwellS      = 7 * 24 * 3600
	MaxDevices     = 1000 // devices a fence is restricted to
	MaxTags        = 50
	MaxTagLen      = 100
	MaxIDLen       = 128
	DefaultQuota   = 50000 // fences per tenant (GEOFENCE_QUOTA)
	DefaultMarginM = 10.0  // hysteresis margin (GEOFENCE_MARGIN_M)
)

// Kind is a fence's geometry kind.
type Kind string

const (
	KindPolygon Kind = "polygon" // GeoJSON Polygon or MultiPolygon
	KindCircle  Kind = "circle"  // GeoJSON Point with properties.radius_m
)

// Fence is one validated fence of a tenant.
type Fence struct {
	ID      string
	Name    string
	Kind    Kind
	Shape   orb.MultiPolygon // KindPolygon: lon/lat, rings closed
	Center  orb.Point        // KindCircle
	RadiusM float64          // KindCircle
	DwellS  int              // 0: no dwell event
	Devices []string         // empty: every device of the tenant
	Tags    []string
	Bound   orb.Bound // lon/lat bounding box (a circle's includes its radius)

	prepared preparedShape // KindPolygon: Shape prepared for Contains and Crosses
	grid     *cellGrid     // KindPolygon: containment decided per cell where no edge is near
}

// AppliesTo reports whether the fence watches device.
func (f *Fence) AppliesTo(device string) bool {
	if len(f.Devices) == 0 {
		return true
	}
	for _, d := range f.Devices {
		if d == device {
			return true
		}
	}
	return false
}

// earthRadiusM is the radius orb's haversine uses, so boxes and distances agree.
const earthRadiusM = orb.EarthRadius

// circleBound is the lon/lat box around a circle (ample near the poles).
func circleBound(c orb.Point, radiusM float64) orb.Bound {
	dLat := radiusM / earthRadiusM * 180 / math.Pi
	cosLat := math.Cos(c.Lat() * math.Pi / 180)
	dLon := 180.0
	if cosLat > 1e-6 {
		dLon = math.Min(180, dLat/cosLat)
	}
	return orb.Bound{
		Min: orb.Point{math.Max(-180, c.Lon()-dLon), math.Max(-90, c.Lat()-dLat)},
		Max: orb.Point{math.Min(180, c.Lon()+dLon), math.Min(90, c.Lat()+dLat)},
	}
}

// Vertices counts the fence's positions.
func (f *Fence) Vertices() int {
	n := 0
	for _, p := range f.Shape {
		for _, r := range p {
			n += len(r)
		}
	}
	return n
}
