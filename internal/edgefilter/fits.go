package edgefilter

import (
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// pending is an undecided fix prepared once, when it enters the window, for
// the SED checks of every later candidate end.
type pending struct {
	afterAnchor time.Duration
	lat, lon    float64
}

// hold buffers x as undecided after the anchor. The window's east scale is
// the anchor's, computed when the window opens: one cosine per window.
func (f *Filter) hold(x fix.Fix) {
	if len(f.near) == 0 {
		f.nearKx = geo.MetresPerDegreeLon(f.anchor.Lat)
	}
	f.buf = append(f.buf, x)
	f.near = append(f.near, pending{afterAnchor: x.TS.Sub(f.anchor.TS), lat: x.Lat, lon: x.Lon})
}

// fits reports whether every buffered fix lies within ε (SED,
// geo.SyncedDistance) of anchor→x.
//
// It decides exactly what geo.SyncedDistance decides, without its cosine:
// the interpolated position is computed with geo.Interpolate's arithmetic,
// and the distance to it in the plane scaled at the anchor's latitude
// (nearKx) rather than at the pair's mean latitude. The two east scales
// differ by at most MetresPerDegree·|their latitudes' difference in
// radians| per degree of longitude (|cos u − cos v| ≤ |u − v|), so the two
// distances differ by at most margin below; only a distance within margin
// of ε is measured again with geo.SyncedDistance. A window 10 km tall
// makes the margin ε/600 at worst, so that is rare.
func (f *Filter) fits(x fix.Fix) bool {
	a := f.anchor
	span := x.TS.Sub(a.TS)
	dLat, dLon := x.Lat-a.Lat, geo.WrapLon(x.Lon-a.Lon)
	eps := f.s.EpsilonM
	for i, p := range f.near {
		qLat, qLon := a.Lat, a.Lon // geo.Interpolate(anchor, x, p's time)
		switch {
		case span <= 0 || p.afterAnchor <= 0:
		case p.afterAnchor >= span:
			qLat, qLon = x.Lat, x.Lon
		default:
			r := float64(p.afterAnchor) / float64(span)
			qLat, qLon = a.Lat+dLat*r, geo.WrapLon(a.Lon+dLon*r)
		}
		east := geo.WrapLon(qLon - p.lon)
		north := qLat - p.lat
		dx, dy := east*f.nearKx, north*geo.MetresPerDegree
		d2 := dx*dx + dy*dy
		// The east-scale difference bound, plus rounding slack.
		fromAnchor := (p.lat+qLat)/2 - a.Lat
		margin := math.Abs(east)*geo.MetresPerDegree*math.Abs(fromAnchor)*(math.Pi/180) + 1e-9*eps
		if hi := eps + margin; d2 > hi*hi {
			return false
		}
		if lo := eps - margin; lo > 0 && d2 < lo*lo {
			continue
		}
		if geo.SyncedDistance(timed(f.buf[i]), timed(*a), timed(x)) > eps {
			return false
		}
	}
	return true
}
