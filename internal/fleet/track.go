package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// Track parameters. Urban driving: blocks of 80–600 m, 30–70 km/h,
// gentle bends, right-angle turns taken at ~18 km/h, traffic-light stops.
const (
	simHz          = 1.0  // fixes per second, a typical tracker rate
	simStep        = 0.1  // s, kinematic sub-step
	accelMS2       = 1.5  // m/s², ordinary acceleration
	brakeMS2       = 2.0  // m/s², ordinary braking
	turnSpeedMS    = 5.0  // speed through a right-angle turn
	turnRadiusM    = 12.0 // radius of a street corner
	noiseSigmaM    = 3.0  // total GPS error σ per axis, see gpsNoise
	noiseTauS      = 20.0 // correlation time of the slow error component
	whiteFractionM = 0.8  // σ of the fast (white) error component
)

// Track generates one reproducible vehicle track of the given duration, for
// the edge filter benchmark (geotrack bench edge) and the edge tests: the
// same seed always gives the same fixes. Unlike a Fleet it models one car
// in free-form streets (bends, 80–600 m blocks, lights of 10–60 s) with
// time-correlated GPS error, which is what a filter has to cope with; a
// Fleet models many devices on a grid for live load. Its fixes are what
// `geotrack bench edge` has always measured, so the figures stay
// comparable. Positions carry GPS noise with
// σ ≈ 3 m per axis, acc is reported as 5 m and speed as the true speed with
// a little noise, as phones and trackers do.
//
// Why correlated noise: real GNSS error is dominated by slowly changing
// atmospheric and multipath terms, so consecutive fixes at 1 Hz are off in
// nearly the same direction; white noise of the same σ would be jumpier
// than any receiver and would make every filter look worse than it is.
// So the error is a first-order Gauss–Markov process (τ = 20 s) plus a
// small white part, 3 m σ in total.
func Track(seed uint64, duration time.Duration) []fix.Fix {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	start := geo.Point{Lat: 52.50 + rng.Float64()*0.05, Lon: 13.35 + rng.Float64()*0.1} // Berlin
	t0 := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC).Add(time.Duration(seed%1000) * time.Hour)
	v := vehicle{rng: rng, pos: start, heading: rng.Float64() * 360}
	v.newBlock()
	noise := gpsNoise{rng: rng, phi: math.Exp(-1 / (noiseTauS * simHz))}
	slow := math.Sqrt(noiseSigmaM*noiseSigmaM - whiteFractionM*whiteFractionM)
	noise.e, noise.n = rng.NormFloat64()*slow, rng.NormFloat64()*slow

	device := fmt.Sprintf("sim-%d", seed)
	n := int(duration.Seconds() * simHz)
	out := make([]fix.Fix, 0, n)
	for i := 0; i < n; i++ {
		for s := 0.0; s < 1/simHz-1e-9; s += simStep {
			v.step(simStep)
		}
		de, dn := noise.next(slow)
		p := geo.Destination(geo.Destination(v.pos, 90, de), 0, dn)
		speed := math.Max(0, v.speed+rng.NormFloat64()*0.2)
		out = append(out, fix.Fix{
			Device: device,
			TS:     t0.Add(time.Duration(float64(i+1)/simHz*1e3) * time.Millisecond),
			Lat:    round(p.Lat, 1e-6), Lon: round(p.Lon, 1e-6), // ~0.1 m, what trackers send
			Acc:   fix.Float(5),
			Speed: fix.Float(math.Round(speed*10) / 10),
		})
	}
	return out
}

type gpsNoise struct {
	rng  *rand.Rand
	phi  float64
	e, n float64 // slow component, metres east/north
}

func (g *gpsNoise) next(slowSigma float64) (east, north float64) {
	k := math.Sqrt(1-g.phi*g.phi) * slowSigma
	g.e = g.phi*g.e + k*g.rng.NormFloat64()
	g.n = g.phi*g.n + k*g.rng.NormFloat64()
	return g.e + whiteFractionM*g.rng.NormFloat64(), g.n + whiteFractionM*g.rng.NormFloat64()
}

// vehicle drives blocks: straight (slightly bending) stretches ending at an
// intersection where it goes on, turns, or stops at a light.
type vehicle struct {
	rng     *rand.Rand
	pos     geo.Point
	heading float64
	speed   float64

	cruise    float64 // target speed of this block
	left      float64 // metres to the end of the block
	bend      float64 // heading change per metre along the block, degrees
	endSpeed  float64 // speed wanted at the end of the block
	turnLeft  float64 // degrees of the current turn still to do (signed)
	stopLeft  float64 // seconds still to wait at a light
	turnAtEnd float64 // turn to make at the end of the block
	stopAtEnd float64 // seconds to wait at the end of the block
}

func (v *vehicle) newBlock() {
	v.left = 80 + v.rng.Float64()*520
	v.cruise = (30 + v.rng.Float64()*40) / 3.6
	v.bend = (v.rng.Float64() - 0.5) * 0.04 // up to ±12° over 600 m
	v.turnAtEnd, v.stopAtEnd, v.endSpeed = 0, 0, v.cruise
	switch r := v.rng.Float64(); {
	case r < 0.2:
		v.stopAtEnd = 10 + v.rng.Float64()*50
		v.endSpeed = 0
	case r < 0.5:
		v.turnAtEnd = 90
		if v.rng.IntN(2) == 0 {
			v.turnAtEnd = -90
		}
		v.endSpeed = turnSpeedMS
	}
}

func (v *vehicle) step(dt float64) {
	switch {
	case v.stopLeft > 0:
		v.speed = 0
		v.stopLeft -= dt
		return
	case v.turnLeft != 0:
		v.speed = math.Min(v.speed, turnSpeedMS)
		dist := v.speed * dt
		dh := math.Copysign(math.Min(math.Abs(v.turnLeft), dist/turnRadiusM*180/math.Pi), v.turnLeft)
		v.heading += dh
		v.turnLeft -= dh
		v.pos = geo.Destination(v.pos, v.heading, dist)
		if v.turnLeft == 0 {
			v.newBlock()
		}
		return
	}
	// Brake in time for the end of the block, otherwise approach cruise speed.
	brakeDist := (v.speed*v.speed - v.endSpeed*v.endSpeed) / (2 * brakeMS2)
	switch {
	case v.speed > v.endSpeed && v.left <= brakeDist+v.speed*dt:
		v.speed = math.Max(v.endSpeed, v.speed-brakeMS2*dt)
	case v.speed < v.cruise:
		v.speed = math.Min(v.cruise, v.speed+accelMS2*dt)
	}
	dist := math.Min(v.left, math.Max(v.speed, 0.5)*dt) // creep the last metres to a light
	v.heading += v.bend * dist
	v.pos = geo.Destination(v.pos, v.heading, dist)
	v.left -= dist
	if v.left <= 1e-6 {
		switch {
		case v.stopAtEnd > 0:
			v.stopLeft, v.speed = v.stopAtEnd, 0
			v.newBlock()
		case v.turnAtEnd != 0:
			v.turnLeft = v.turnAtEnd
		default:
			v.newBlock()
		}
	}
}
