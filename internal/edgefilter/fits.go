package edgefilter

import (
	"math"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// pending is an undecided fix prepared once, when it enters the window, for
// the SED checks of every later candidate end: its time after the anchor and
// the east scale at its latitude (the one cosine).
type pending struct {
	afterAnchor time.Duration
	lat, lon    float64
	kx          float64 // metres per degree of longitude at lat
}

func prepare(x fix.Fix, anchor fix.Fix) pending {
	return pending{afterAnchor: x.TS.Sub(anchor.TS), lat: x.Lat, lon: x.Lon, kx: geo.MetresPerDegreeLon(x.Lat)}
}

// fits reports whether every buffered fix lies within ε (SED,
// geo.SyncedDistance) of anchor→x.
//
// It decides exactly what geo.SyncedDistance decides, without its cosine:
// the interpolated position is computed with geo.Interpolate's arithmetic,
// and the distance to it in the plane scaled at the buffered fix's latitude
// rather than at the pair's mean latitude. The two east scales differ by at
// most MetresPerDegree·|Δlat in radians|/2 per degree of longitude
// (|cos u − cos v| ≤ |u − v|), so the two distances differ by at most
// margin below; only a distance within margin of ε is measured again with
// geo.SyncedDistance. For the few-metre offsets the simplifier sees the
// margin is micrometres, so that almost never happens.
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
		dx, dy := east*p.kx, north*geo.MetresPerDegree
		d2 := dx*dx + dy*dy
		// The east-scale difference bound, plus rounding slack.
		margin := math.Abs(east)*geo.MetresPerDegree*math.Abs(north)*(math.Pi/180)/2 + 1e-9*eps
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
