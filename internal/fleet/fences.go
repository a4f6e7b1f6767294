package fleet

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
)

// CityFences builds n deterministic GeoJSON fence Features within radiusM
// of London (the setting of `geotrack bench geofence` and the evaluator's Go
// benchmark): 70 % polygons
// (star-shaped, 8-200 vertices, 40-400 m across), 30 % circles of 20-300 m.
func CityFences(n int, radiusM float64) [][]byte {
	rng := mrand.New(mrand.NewPCG(9, 9))
	out := make([][]byte, n)
	for i := range out {
		r := radiusM * math.Sqrt(rng.Float64())
		a := rng.Float64() * 2 * math.Pi
		lat := London.Lat + r*math.Sin(a)/111195
		lon := London.Lon + r*math.Cos(a)/(111195*math.Cos(London.Lat*math.Pi/180))
		id := fmt.Sprintf("f%05d", i)
		if rng.IntN(10) < 3 {
			out[i] = fmt.Appendf(nil, `{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[%.7f,%.7f]},"properties":{"name":"circle %d","radius_m":%.1f,"dwell_s":300}}`,
				id, lon, lat, i, 20+rng.Float64()*280)
			continue
		}
		nv := 8 + rng.IntN(193)
		size := 20 + rng.Float64()*180
		var b strings.Builder
		fmt.Fprintf(&b, `{"type":"Feature","id":%q,"geometry":{"type":"Polygon","coordinates":[[`, id)
		var first string
		for k := 0; k < nv; k++ {
			ang := (float64(k) + rng.Float64()*0.9) * 2 * math.Pi / float64(nv)
			rad := size * (0.5 + rng.Float64()*0.5)
			p := fmt.Sprintf("[%.7f,%.7f]", lon+rad*math.Cos(ang)/(111195*math.Cos(lat*math.Pi/180)), lat+rad*math.Sin(ang)/111195)
			if k == 0 {
				first = p
			}
			b.WriteString(p)
			b.WriteByte(',')
		}
		b.WriteString(first)
		fmt.Fprintf(&b, `]]},"properties":{"name":"polygon %d","dwell_s":300}}`, i)
		out[i] = []byte(b.String())
	}
	return out
}
