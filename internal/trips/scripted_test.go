package trips_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// A scripted device: parks and drives of known length, so the trips and
// stops it makes are known exactly (the ground truth of the tests).
type segment struct {
	park   time.Duration // parked this long (GPS noise only)
	driveM float64       // or drives this far
	speed  float64       // m/s, while driving
	silent bool          // no fixes during this segment (a tunnel)
}

type truthTrip struct {
	start, end time.Time
	distM      float64
}

type scripted struct {
	fixes []fix.Fix
	trips []truthTrip // every drive, in order
	parks []truthTrip // every park (distM 0), in order
}

// Noise model: time-correlated GPS error (Gauss–Markov, τ = 20 s, 3 m σ per
// axis) plus 0.8 m white, as internal/fleet's Track: real receivers err in
// nearly the same direction from one second to the next.
type noise struct {
	rng        *rand.Rand
	e, n, slow float64
}

func (g *noise) next(dt float64) (float64, float64) {
	phi := math.Exp(-dt / 20)
	k := g.slow * math.Sqrt(1-phi*phi)
	g.e = phi*g.e + k*g.rng.NormFloat64()
	g.n = phi*g.n + k*g.rng.NormFloat64()
	return g.e + 0.8*g.rng.NormFloat64(), g.n + 0.8*g.rng.NormFloat64()
}

// simulate plays script for device every interval from t0; reportSpeed
// adds a reported speed (with 0.2 m/s noise) and a 5 m accuracy, as phones
// do; without it the machine must derive speed from positions.
func simulate(seed uint64, device string, interval time.Duration, reportSpeed bool, script []segment) scripted {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := &noise{rng: rng, slow: math.Sqrt(9 - 0.64)}
	g.e, g.n = rng.NormFloat64()*g.slow, rng.NormFloat64()*g.slow
	pos := geo.Point{Lat: 48.1 + rng.Float64()*0.1, Lon: 11.5 + rng.Float64()*0.1}
	heading := rng.Float64() * 360
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	var out scripted
	now := 0.0 // seconds since t0, of the true clock
	next := 0.0
	dt := interval.Seconds()
	emit := func(p geo.Point, speed float64, silent bool) {
		for next <= now+1e-9 {
			if !silent {
				de, dn := g.next(dt)
				q := geo.Destination(geo.Destination(p, 90, de), 0, dn)
				f := fix.Fix{Device: device, TS: t0.Add(time.Duration(next * float64(time.Second))),
					Lat: math.Round(q.Lat*1e6) / 1e6, Lon: math.Round(q.Lon*1e6) / 1e6}
				if reportSpeed {
					f.Speed = fix.Float(math.Round(math.Max(0, speed+0.2*rng.NormFloat64())*10) / 10)
					f.Acc = fix.Float(5)
				}
				out.fixes = append(out.fixes, f)
			}
			next += dt
		}
	}
	const step = 0.1 // s, kinematic sub-step
	for _, s := range script {
		start := t0.Add(time.Duration(now * float64(time.Second)))
		if s.park > 0 {
			for end := now + s.park.Seconds(); now < end-1e-9; {
				now += step
				emit(pos, 0, s.silent)
			}
			out.parks = append(out.parks, truthTrip{start: start, end: t0.Add(time.Duration(now * float64(time.Second)))})
			continue
		}
		// Gentle bends: the heading drifts a few degrees per 100 m.
		turn := (rng.Float64() - 0.5) * 0.06 // degrees per metre
		for done := 0.0; done < s.driveM-1e-9; {
			d := math.Min(s.speed*step, s.driveM-done)
			pos = geo.Destination(pos, heading, d)
			heading += turn * d
			done += d
			now += d / s.speed
			emit(pos, s.speed, s.silent)
		}
		out.trips = append(out.trips, truthTrip{start: start, end: t0.Add(time.Duration(now * float64(time.Second))), distM: s.driveM})
	}
	return out
}

// fleetScript is one device's day: a first parking, then drives of 1.5–12
// km at 12–25 m/s separated by parkings of 6–60 min.
func fleetScript(seed uint64) []segment {
	rng := rand.New(rand.NewPCG(seed, 11))
	script := []segment{{park: time.Duration(600+rng.IntN(1200)) * time.Second}}
	for i := 0; i < 3+rng.IntN(4); i++ {
		script = append(script,
			segment{driveM: 1500 + rng.Float64()*10500, speed: 12 + rng.Float64()*13},
			segment{park: time.Duration(360+rng.IntN(3240)) * time.Second})
	}
	return script
}

func deviceName(i int) string { return fmt.Sprintf("veh-%02d", i) }
