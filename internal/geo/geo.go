// Package geo is the small amount of spherical geometry geotrack needs:
// great-circle distance and bearing on a spherical Earth, plus a local flat
// projection for the point-to-segment and time-synchronised distances used by
// the edge filter. Pure math: no I/O, no dependencies beyond the standard library.
package geo

import "math"

// EarthRadiusM is the IUGG mean Earth radius (R1 of WGS84) in metres. Using
// the mean radius keeps haversine errors below ~0.5 % anywhere on Earth.
const EarthRadiusM = 6371008.8

// Point is a WGS84 position in degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

func rad(deg float64) float64 { return deg * math.Pi / 180 }
func deg(rad float64) float64 { return rad * 180 / math.Pi }

// Haversine returns the great-circle distance between a and b in metres.
func Haversine(a, b Point) float64 {
	φ1, φ2 := rad(a.Lat), rad(b.Lat)
	dφ := φ2 - φ1
	dλ := rad(WrapLon(b.Lon - a.Lon))
	h := sq(math.Sin(dφ/2)) + math.Cos(φ1)*math.Cos(φ2)*sq(math.Sin(dλ/2))
	// Clamp: rounding can push h a hair above 1 for antipodal points.
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(math.Min(1, h)))
}

// InitialBearing returns the initial great-circle bearing from a to b in
// degrees clockwise from true north, in [0, 360).
func InitialBearing(a, b Point) float64 {
	φ1, φ2 := rad(a.Lat), rad(b.Lat)
	dλ := rad(b.Lon - a.Lon)
	y := math.Sin(dλ) * math.Cos(φ2)
	x := math.Cos(φ1)*math.Sin(φ2) - math.Sin(φ1)*math.Cos(φ2)*math.Cos(dλ)
	return normBearing(deg(math.Atan2(y, x)))
}

// Destination returns the point reached by travelling distM metres from p
// along the great circle with initial bearing bearingDeg.
func Destination(p Point, bearingDeg, distM float64) Point {
	δ := distM / EarthRadiusM
	θ := rad(bearingDeg)
	φ1, λ1 := rad(p.Lat), rad(p.Lon)
	sinφ2 := math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ)
	φ2 := math.Asin(math.Max(-1, math.Min(1, sinφ2)))
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*sinφ2)
	return Point{Lat: deg(φ2), Lon: WrapLon(deg(λ2))}
}

// WrapLon maps a longitude (or longitude difference) into [-180, 180).
func WrapLon(lon float64) float64 {
	if lon >= -180 && lon < 180 {
		return lon
	}
	return math.Mod(math.Mod(lon+180, 360)+360, 360) - 180
}

func normBearing(b float64) float64 {
	b = math.Mod(b, 360)
	if b < 0 {
		b += 360
	}
	if b >= 360 { // -0.0000…1 + 360 rounds to 360
		b = 0
	}
	return b
}

func sq(x float64) float64 { return x * x }
