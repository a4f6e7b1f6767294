package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// A scripted device (for the trip tests and `geotrack bench movement`): parks and drives of known length, so the trips and
// stops it makes are known exactly (the ground truth of the tests).
type Segment struct {
	Park   time.Duration // parked this long (GPS noise only)
	DriveM float64       // or drives this far
	Speed  float64       // m/s, while driving
	Silent bool          // no fixes during this segment (a tunnel)
}

// Span is a scripted drive or park: its true times and length.
type Span struct {
	Start, End time.Time
	DistM      float64
}

// Scripted is a simulated device's fixes and the truth they came from.
type Scripted struct {
	Fixes  []fix.Fix
	Drives []Span // every drive, in order
	Parks  []Span // every park, in order
}

// Noise model: time-correlated GPS error (Gauss–Markov, τ = 20 s, 3 m σ per
// axis) plus 0.8 m white, as internal/fleet's Track: real receivers err in
// nearly the same direction from one second to the next.
type scriptNoise struct {
	rng        *rand.Rand
	e, n, slow float64
}

func (g *scriptNoise) next(dt float64) (float64, float64) {
	phi := math.Exp(-dt / 20)
	k := g.slow * math.Sqrt(1-phi*phi)
	g.e = phi*g.e + k*g.rng.NormFloat64()
	g.n = phi*g.n + k*g.rng.NormFloat64()
	return g.e + 0.8*g.rng.NormFloat64(), g.n + 0.8*g.rng.NormFloat64()
}

// Simulate plays script for device every interval from t0; reportSpeed
// adds a reported speed (with 0.2 m/s noise) and a 5 m accuracy, as phones
// do; without it the machine must derive speed from positions.
func Simulate(seed uint64, device string, interval time.Duration, reportSpeed bool, script []Segment) Scripted {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := &scriptNoise{rng: rng, slow: math.Sqrt(9 - 0.64)}
	g.e, g.n = rng.NormFloat64()*g.slow, rng.NormFloat64()*g.slow
	pos := geo.Point{Lat: 48.1 + rng.Float64()*0.1, Lon: 11.5 + rng.Float64()*0.1}
	heading := rng.Float64() * 360
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	var out Scripted
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
				out.Fixes = append(out.Fixes, f)
			}
			next += dt
		}
	}
	const step = 0.1 // s, kinematic sub-step
	for _, s := range script {
		start := t0.Add(time.Duration(now * float64(time.Second)))
		if s.Park > 0 {
			for end := now + s.Park.Seconds(); now < end-1e-9; {
				now += step
				emit(pos, 0, s.Silent)
			}
			out.Parks = append(out.Parks, Span{Start: start, End: t0.Add(time.Duration(now * float64(time.Second)))})
			continue
		}
		// Gentle bends: the heading drifts a few degrees per 100 m.
		turn := (rng.Float64() - 0.5) * 0.06 // degrees per metre
		for done := 0.0; done < s.DriveM-1e-9; {
			d := math.Min(s.Speed*step, s.DriveM-done)
			pos = geo.Destination(pos, heading, d)
			heading += turn * d
			done += d
			now += d / s.Speed
			emit(pos, s.Speed, s.Silent)
		}
		out.Drives = append(out.Drives, Span{Start: start, End: t0.Add(time.Duration(now * float64(time.Second))), DistM: s.DriveM})
	}
	return out
}

// DayScript is one device's day: a first parking, then drives of 1.5–12
// km at 12–25 m/s separated by parkings of 6–60 min.
func DayScript(seed uint64) []Segment {
	rng := rand.New(rand.NewPCG(seed, 11))
	script := []Segment{{Park: time.Duration(600+rng.IntN(1200)) * time.Second}}
	for i := 0; i < 3+rng.IntN(4); i++ {
		script = append(script,
			Segment{DriveM: 1500 + rng.Float64()*10500, Speed: 12 + rng.Float64()*13},
			Segment{Park: time.Duration(360+rng.IntN(3240)) * time.Second})
	}
	return script
}

// ScriptedDevice names the i-th scripted device.
func ScriptedDevice(i int) string { return fmt.Sprintf("veh-%02d", i) }
