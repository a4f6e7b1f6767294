package geo

import "math"

// Plane is a local equirectangular (flat ENU-like) projection around an
// origin: x points east, y north, both in metres.
//
// Why flat: the edge filter compares positions a few metres apart on segments
// of at most a few kilometres. For two points d metres apart whose latitudes
// are within Δ metres of the origin the distance error is about
// d·tan(lat)·Δ/R — for d = 5 m, Δ = 5 km, lat = 45° that is 4 mm — and the
// curvature error (d³/R²) is far smaller. A flat plane makes point-to-segment
// and interpolation closed-form and cheap. It is not meant for distances of
// hundreds of kilometres or for segments that reach the poles; use Haversine
// there.
type Plane struct {
	origin Point
	kx, ky float64 // metres per degree of longitude / latitude at the origin
}

// NewPlane returns the local projection centred on origin.
func NewPlane(origin Point) Plane {
	ky := rad(1) * EarthRadiusM
	return Plane{origin: origin, kx: ky * math.Cos(rad(origin.Lat)), ky: ky}
}

// Project returns p's east and north offsets from the origin in metres.
// Longitudes are unwrapped so segments across the antimeridian stay short.
func (pl Plane) Project(p Point) (x, y float64) {
	return WrapLon(p.Lon-pl.origin.Lon) * pl.kx, (p.Lat - pl.origin.Lat) * pl.ky
}

// Unproject is the inverse of Project.
func (pl Plane) Unproject(x, y float64) Point {
	lon := pl.origin.Lon
	if pl.kx != 0 {
		lon += x / pl.kx
	}
	return Point{Lat: pl.origin.Lat + y/pl.ky, Lon: WrapLon(lon)}
}

// MetresPerDegree is the length of a degree of latitude on the mean sphere,
// and of a degree of longitude at the equator.
const MetresPerDegree = EarthRadiusM * math.Pi / 180

// MetresPerDegreeLon is the length of a degree of longitude at latitude lat
// (degrees): FlatDistance's east scale for two points both at lat.
func MetresPerDegreeLon(lat float64) float64 {
	return MetresPerDegree * math.Cos(rad(lat))
}

// FlatDistance is the distance between two nearby points on a plane centred
// on their mean latitude. It agrees with Haversine to well under a millimetre
// for points less than a kilometre apart and is several times cheaper.
func FlatDistance(a, b Point) float64 {
	ky := rad(1) * EarthRadiusM
	kx := ky * math.Cos(rad((a.Lat+b.Lat)/2))
	return math.Hypot(WrapLon(b.Lon-a.Lon)*kx, (b.Lat-a.Lat)*ky)
}

// SegmentDistance returns the distance in metres from p to the closest point
// of the segment a–b, in the local plane centred on a.
func SegmentDistance(p, a, b Point) float64 {
	pl := NewPlane(a)
	px, py := pl.Project(p)
	bx, by := pl.Project(b)
	l2 := bx*bx + by*by
	if l2 == 0 {
		return math.Hypot(px, py)
	}
	t := math.Max(0, math.Min(1, (px*bx+py*by)/l2))
	return math.Hypot(px-t*bx, py-t*by)
}

// CrossTrack returns the signed distance in metres from p to the infinite
// line through a and b (positive when p lies to the right of a→b), in the
// local plane centred on a. It is 0 when a and b coincide.
func CrossTrack(p, a, b Point) float64 {
	pl := NewPlane(a)
	px, py := pl.Project(p)
	bx, by := pl.Project(b)
	l := math.Hypot(bx, by)
	if l == 0 {
		return 0
	}
	// 2-D cross product b×p is positive when p is left (counter-clockwise).
	return -(bx*py - by*px) / l
}
