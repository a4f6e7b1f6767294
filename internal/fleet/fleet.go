// Package fleet simulates devices moving through a city: each drives a
// random walk along a street-grid-like path (straight blocks, right-angle
// turns, braking before corners, stops at lights and to park) and reports
// fixes at a fixed rate with GPS noise. Track generates the single-vehicle
// tracks of the edge filter benchmark. Both are deterministic for a seed
// and pure: no clock, no I/O. It is the one vehicle simulator of the
// repository (geotrack simulate, geotrack dev, geotrack bench).
package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

// London is the default centre.
var London = geo.Point{Lat: 51.5074, Lon: -0.1278}

// Defaults for the zero values of Config.
const (
	DefaultRate    = 1.0    // fixes per second per device
	DefaultRadiusM = 5000.0 // devices roam within about this distance of the centre
	DefaultBlockM  = 120.0  // mean street block length
	DefaultNoiseM  = 3.0    // GPS noise, σ per axis
	DefaultPrefix  = "sim-"
	// MaxSpeed bounds every device's speed (m/s), about 72 km/h.
	MaxSpeed = 20.0
)

// Config describes a fleet. Zero values take the defaults above.
type Config struct {
	Devices int
	Rate    float64   // fixes per second per device, e.g. 0.2 for one every 5 s
	Center  geo.Point // zero means London
	Seed    uint64
	// Start is when the simulation begins; it must be set (the package has
	// no clock, which keeps it deterministic).
	Start   time.Time
	Prefix  string  // device ids are Prefix + zero-padded index
	RadiusM float64 // roaming radius around Center
	BlockM  float64 // mean block length between intersections
	// NoiseM is the σ of the GPS error per axis in metres; negative turns
	// noise off (exact positions, for tests).
	NoiseM float64
}

// Fleet is a set of simulated devices sharing one clock. Not safe for
// concurrent use.
type Fleet struct {
	cfg      Config
	plane    geo.Plane
	interval time.Duration
	devices  []*device
	now      time.Time
}

// New validates cfg, fills defaults and places the devices.
func New(cfg Config) (*Fleet, error) {
	if cfg.Devices <= 0 {
		return nil, errors.New("fleet: devices must be positive")
	}
	if cfg.Start.IsZero() {
		return nil, errors.New("fleet: start time must be set")
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || cfg.Rate > 1000 {
		return nil, fmt.Errorf("fleet: rate %g must be in (0, 1000] fixes per second", cfg.Rate)
	}
	if cfg.Center == (geo.Point{}) {
		cfg.Center = London
	}
	if math.Abs(cfg.Center.Lat) > 80 || math.Abs(cfg.Center.Lon) > 180 {
		return nil, fmt.Errorf("fleet: centre %v must be within ±80° latitude and ±180° longitude", cfg.Center)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.RadiusM <= 0 {
		cfg.RadiusM = DefaultRadiusM
	}
	if cfg.BlockM <= 0 {
		cfg.BlockM = DefaultBlockM
	}
	if cfg.NoiseM == 0 {
		cfg.NoiseM = DefaultNoiseM
	}
	if cfg.NoiseM < 0 {
		cfg.NoiseM = 0
	}
	// Whole milliseconds throughout: that is the precision of the wire
	// format, so a fix's time survives a round trip unchanged.
	cfg.Start = cfg.Start.Truncate(time.Millisecond)
	interval := max(time.Duration(math.Round(1000/cfg.Rate))*time.Millisecond, time.Millisecond)
	f := &Fleet{
		cfg:      cfg,
		plane:    geo.NewPlane(cfg.Center),
		interval: interval,
		now:      cfg.Start,
	}
	// The grid's orientation is a property of the city, shared by all.
	gridAngle := rand.New(rand.NewPCG(cfg.Seed, math.MaxUint64)).Float64() * 90
	width := len(fmt.Sprint(cfg.Devices - 1))
	for i := range cfg.Devices {
		id := fmt.Sprintf("%s%0*d", cfg.Prefix, width, i)
		f.devices = append(f.devices, newDevice(id, i, cfg, gridAngle, f.interval))
	}
	return f, nil
}

// Now is the time the fleet has been advanced to.
func (f *Fleet) Now() time.Time { return f.now }

// Interval is the time between two fixes of one device.
func (f *Fleet) Interval() time.Duration { return f.interval }

// DeviceIDs lists the simulated devices.
func (f *Fleet) DeviceIDs() []string {
	out := make([]string, len(f.devices))
	for i, d := range f.devices {
		out[i] = d.id
	}
	return out
}

// Advance moves every device to time to and returns the fixes they report
// after the previous call up to and including to, ordered by time. Each
// device reports every Interval, with a per-device phase, so a fleet's
// reports are spread evenly rather than arriving in bursts.
func (f *Fleet) Advance(to time.Time) []fix.Fix {
	var out []fix.Fix
	f.advance(to, func(fx fix.Fix, _ geo.Point) { out = append(out, fx) })
	return out
}

// advance is Advance with the true position of every fix, for tests.
func (f *Fleet) advance(to time.Time, emit func(fix.Fix, geo.Point)) {
	if !to.After(f.now) {
		return
	}
	var batch []observation
	for i, d := range f.devices {
		for !d.nextFix.After(to) {
			d.runUntil(d.nextFix)
			o := d.observe(f.plane)
			o.device = i
			batch = append(batch, o)
			d.nextFix = d.nextFix.Add(f.interval)
		}
	}
	// Sort indices, not the observations: moving the large structs around
	// dominated the cost. Time then device index is a total order, so the
	// result is deterministic.
	order := make([]int32, len(batch))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := batch[a].fix.TS.Compare(batch[b].fix.TS); c != 0 {
			return c
		}
		return cmp.Compare(batch[a].device, batch[b].device)
	})
	for _, i := range order {
		emit(batch[i].fix, batch[i].truth)
	}
	f.now = to
}

type observation struct {
	fix    fix.Fix
	truth  geo.Point
	device int
}
