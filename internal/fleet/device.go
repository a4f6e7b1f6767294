package fleet

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// Driving dynamics: gentle enough for a city, in m/s².
const (
	accel      = 1.5
	decel      = 2.5
	turnSpeed  = 5.0 // taken through a corner
	creepSpeed = 1.5 // the least speed while still rolling towards a stop line
	maxStep    = time.Second
)

// What a device does at the next intersection.
type action int

const (
	goStraight action = iota
	turnLeft
	turnRight
	stopThenGo // traffic light or parking
)

// device is one simulated vehicle. Positions are metres east (x) and north
// (y) of the fleet centre, in the fleet's local plane.
type device struct {
	id  string
	rng *rand.Rand

	x, y      float64
	gridAngle float64 // degrees: heading of grid direction 0
	dir       int     // 0..3: grid direction, clockwise
	toNode    float64 // metres left to the next intersection
	next      action
	cruise    float64 // target speed on the current block
	maxCruise float64 // this vehicle's top cruising speed
	v         float64
	stopLeft  float64 // seconds still to wait

	battery float64
	drain   float64 // per second
	alt     float64

	t       time.Time // simulated up to
	nextFix time.Time

	radiusM, blockM, noiseM float64
}

func newDevice(id string, index int, cfg Config, gridAngle float64, interval time.Duration) *device {
	// One stream per device: a device's path depends only on seed and index,
	// not on how many others there are.
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(index)))
	d := &device{
		id: id, rng: rng, gridAngle: gridAngle,
		radiusM: cfg.RadiusM, blockM: cfg.BlockM, noiseM: cfg.NoiseM,
		t: cfg.Start,
	}
	// Uniform over the disc of the roaming radius.
	r := cfg.RadiusM * math.Sqrt(rng.Float64())
	a := rng.Float64() * 2 * math.Pi
	d.x, d.y = r*math.Cos(a), r*math.Sin(a)
	d.dir = rng.IntN(4)
	// A third are slow (bikes, buses in traffic), the rest cars.
	if rng.Float64() < 0.3 {
		d.maxCruise = 3 + rng.Float64()*4
	} else {
		d.maxCruise = 8 + rng.Float64()*(MaxSpeed-8)
	}
	d.startBlock()
	d.toNode *= rng.Float64() // start mid-block
	d.v = d.cruise * rng.Float64()
	d.battery = 0.6 + 0.4*rng.Float64()
	d.drain = (0.02 + 0.06*rng.Float64()) / 3600 // 2–8 % an hour
	d.alt = 10 + 30*rng.Float64()
	d.nextFix = cfg.Start.Add(time.Duration(rng.Int64N(int64(interval/time.Millisecond))+1) * time.Millisecond)
	return d
}

// startBlock begins a new block: its length, cruising speed and what to do
// at its end.
func (d *device) startBlock() {
	d.toNode = d.blockM * (0.5 + d.rng.Float64())
	d.cruise = d.maxCruise * (0.7 + 0.3*d.rng.Float64())
	switch r := d.rng.Float64(); {
	case r < 0.15:
		d.next = stopThenGo
	case r < 0.35:
		d.next = turnLeft
	case r < 0.55:
		d.next = turnRight
	default:
		d.next = goStraight
	}
}

// nodeSpeed is the speed to reach the next intersection with.
func (d *device) nodeSpeed() float64 {
	switch d.next {
	case stopThenGo:
		return 0
	case turnLeft, turnRight:
		return turnSpeed
	}
	return d.cruise
}

// heading is the direction of travel in degrees clockwise from north.
func (d *device) heading() float64 {
	h := math.Mod(d.gridAngle+90*float64(d.dir), 360)
	if h < 0 {
		h += 360
	}
	return h
}

func (d *device) runUntil(t time.Time) {
	for d.t.Before(t) {
		step := min(t.Sub(d.t), maxStep)
		d.step(step.Seconds())
		d.t = d.t.Add(step)
	}
}

func (d *device) step(dt float64) {
	d.battery = max(0.02, d.battery-d.drain*dt)
	if d.stopLeft > 0 {
		d.stopLeft -= dt
		d.v = 0
		return
	}
	target := d.nodeSpeed()
	braking := d.v > target && (d.v*d.v-target*target)/(2*decel) >= d.toNode
	switch {
	case braking:
		d.v = max(d.v-decel*dt, max(target, creepSpeed))
	case d.v < d.cruise:
		d.v = min(d.v+accel*dt, d.cruise)
	default:
		d.v = max(d.v-decel*dt, d.cruise)
	}
	dist := d.v * dt
	if dist < d.toNode {
		d.move(dist)
		d.toNode -= dist
		return
	}
	// Reaching the intersection ends this step there: the remainder of a
	// step of at most a second is a few metres, not worth carrying over.
	d.move(d.toNode)
	d.atIntersection()
}

func (d *device) move(dist float64) {
	rad := d.heading() * math.Pi / 180
	d.x += dist * math.Sin(rad)
	d.y += dist * math.Cos(rad)
}

func (d *device) atIntersection() {
	switch d.next {
	case stopThenGo:
		d.v = 0
		if d.rng.Float64() < 0.1 {
			d.stopLeft = 60 + 240*d.rng.Float64() // parked for a while
		} else {
			d.stopLeft = 5 + 35*d.rng.Float64() // a red light
		}
		d.dir = (d.dir + d.rng.IntN(3) + 3) % 4 // straight, left or right
	case turnLeft:
		d.dir = (d.dir + 3) % 4
		d.v = min(d.v, turnSpeed)
	case turnRight:
		d.dir = (d.dir + 1) % 4
		d.v = min(d.v, turnSpeed)
	}
	d.keepInside()
	d.startBlock()
}

// keepInside turns a device that has strayed beyond the roaming radius onto
// the grid direction that best heads back towards the centre.
func (d *device) keepInside() {
	if math.Hypot(d.x, d.y) <= d.radiusM || d.rng.Float64() < 0.2 {
		return
	}
	best, bestDot := d.dir, math.Inf(1)
	for dir := range 4 {
		rad := (d.gridAngle + 90*float64(dir)) * math.Pi / 180
		// The dot product of the direction with the position vector is
		// smallest for the direction pointing most towards the centre.
		if dot := math.Sin(rad)*d.x + math.Cos(rad)*d.y; dot < bestDot {
			best, bestDot = dir, dot
		}
	}
	d.dir = best
}

// observe is the fix the device reports now, and its true position.
func (d *device) observe(pl geo.Plane) observation {
	truth := pl.Unproject(d.x, d.y)
	nx, ny := d.rng.NormFloat64()*d.noiseM, d.rng.NormFloat64()*d.noiseM
	p := pl.Unproject(d.x+nx, d.y+ny)
	acc := 1.0
	if d.noiseM > 0 {
		// Receivers report an estimate, not the true error.
		acc = d.noiseM * (1 + 0.2*math.Abs(d.rng.NormFloat64()))
	}
	alt := d.alt + d.rng.NormFloat64()*1.5
	heading := round(d.heading(), 0.1)
	if heading >= 360 {
		heading = 0
	}
	return observation{
		fix: fix.Fix{
			Device:  d.id,
			TS:      d.t,
			Lat:     round(p.Lat, 1e-7),
			Lon:     round(p.Lon, 1e-7),
			Alt:     fix.Float(round(alt, 0.1)),
			Acc:     fix.Float(round(acc, 0.1)),
			Speed:   fix.Float(round(d.v, 0.01)),
			Heading: fix.Float(math.Mod(round(heading, 0.1), 360)),
			Battery: fix.Float(round(d.battery, 0.001)),
		},
		truth: truth,
	}
}

// round rounds v to a decimal unit (0.1, 1e-7, ...). Dividing by the power of
// ten, not multiplying by unit, gives the double nearest the decimal value,
// so the JSON reads 51.4894710 rather than 51.489470999999995.
func round(v, unit float64) float64 {
	scale := math.Round(1 / unit)
	return math.Round(v*scale) / scale
}
