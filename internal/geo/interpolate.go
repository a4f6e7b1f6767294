package geo

import "time"

// TimedPoint is a position at an instant.
type TimedPoint struct {
	Point
	T time.Time
}

// Interpolate returns the position at t on the straight segment from a to b,
// moving at constant speed. "Straight" means linear in latitude/longitude
// (a straight line in any equirectangular projection), which is what the
// forwarded track looks like once re-drawn; it differs from the great circle
// by about L²·tan(lat)/(8R), 2 cm for a 1 km segment at 45°.
// t outside [a.T, b.T] is clamped to the nearer end, and a zero-length time
// span returns a.
func Interpolate(a, b TimedPoint, t time.Time) Point {
	span := b.T.Sub(a.T)
	if span <= 0 || !t.After(a.T) {
		return a.Point
	}
	if !t.Before(b.T) {
		return b.Point
	}
	f := float64(t.Sub(a.T)) / float64(span)
	return Point{
		Lat: a.Lat + (b.Lat-a.Lat)*f,
		Lon: WrapLon(a.Lon + WrapLon(b.Lon-a.Lon)*f),
	}
}

// SyncedDistance is the synchronised Euclidean distance (SED): the distance
// in metres between p and where the segment a→b says the object was at p.T.
// Unlike the perpendicular distance it also catches errors in time (a stop
// hidden inside a segment drawn at constant speed).
func SyncedDistance(p, a, b TimedPoint) float64 {
	return FlatDistance(p.Point, Interpolate(a, b, p.T))
}
