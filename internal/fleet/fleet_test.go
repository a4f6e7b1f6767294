package fleet

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
)

var start = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func mustFleet(t *testing.T, cfg Config) *Fleet {
	t.Helper()
	if cfg.Start.IsZero() {
		cfg.Start = start
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run advances f in steps of step until d has passed.
func run(f *Fleet, d, step time.Duration) []fix.Fix {
	var out []fix.Fix
	end := f.Now().Add(d)
	for t := f.Now().Add(step); !t.After(end); t = t.Add(step) {
		out = append(out, f.Advance(t)...)
	}
	return out
}

func TestDeterministicForASeed(t *testing.T) {
	a := run(mustFleet(t, Config{Devices: 20, Seed: 7}), 10*time.Minute, 5*time.Second)
	b := run(mustFleet(t, Config{Devices: 20, Seed: 7}), 10*time.Minute, 5*time.Second)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different fixes")
	}
	c := run(mustFleet(t, Config{Devices: 20, Seed: 8}), 10*time.Minute, 7*time.Second)
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same fixes")
	}
	// Stepping differently gives the same fixes: the simulation does not
	// depend on how often the caller looks.
	d := run(mustFleet(t, Config{Devices: 20, Seed: 7}), 10*time.Minute, 60*time.Second)
	if !reflect.DeepEqual(a, d) {
		t.Fatal("same seed, different stepping, different fixes")
	}
}

func TestDevicePathIndependentOfFleetSize(t *testing.T) {
	small := run(mustFleet(t, Config{Devices: 3, Seed: 1, Prefix: "d"}), 5*time.Minute, 10*time.Second)
	large := run(mustFleet(t, Config{Devices: 9, Seed: 1, Prefix: "d"}), 5*time.Minute, 10*time.Second)
	var fromLarge []fix.Fix
	for _, f := range large {
		if f.Device == "d1" {
			fromLarge = append(fromLarge, f)
		}
	}
	var fromSmall []fix.Fix
	for _, f := range small {
		if f.Device == "d1" {
			fromSmall = append(fromSmall, f)
		}
	}
	if len(fromSmall) == 0 || !reflect.DeepEqual(fromSmall, fromLarge) {
		t.Fatalf("device d1 moves differently in a fleet of 3 (%d fixes) and of 9 (%d fixes)", len(fromSmall), len(fromLarge))
	}
}

func TestRateAndOrdering(t *testing.T) {
	cases := []struct {
		rate    float64
		devices int
		span    time.Duration
		want    int
	}{
		{1, 10, time.Minute, 600},
		{0.2, 50, time.Minute, 600},
		{5, 4, 10 * time.Second, 200},
	}
	for _, c := range cases {
		f := mustFleet(t, Config{Devices: c.devices, Rate: c.rate, Seed: 3})
		fixes := f.Advance(start.Add(c.span))
		if len(fixes) != c.want {
			t.Errorf("rate %g × %d devices × %s: %d fixes, want %d", c.rate, c.devices, c.span, len(fixes), c.want)
		}
		for i := 1; i < len(fixes); i++ {
			if fixes[i].TS.Before(fixes[i-1].TS) {
				t.Fatalf("fixes out of order at %d", i)
			}
		}
		for _, fx := range fixes {
			if !fx.TS.After(start) || fx.TS.After(start.Add(c.span)) || fx.TS.Nanosecond()%int(time.Millisecond) != 0 {
				t.Fatalf("fix time %s outside (start, end] or not whole ms", fx.TS)
			}
		}
	}
}

func TestFixesAreValidAndBounded(t *testing.T) {
	f := mustFleet(t, Config{Devices: 30, Seed: 11, Center: geo.Point{Lat: -33.87, Lon: 151.21}, RadiusM: 2000})
	fixes := run(f, time.Hour, 30*time.Second)
	now := start.Add(time.Hour)
	var stopped, moving, headings int
	seenHeading := map[float64]bool{}
	for _, fx := range fixes {
		if err := fix.Validate(&fx, now); err != nil {
			t.Fatalf("invalid fix %+v: %v", fx, err)
		}
		if *fx.Speed < 0 || *fx.Speed > MaxSpeed {
			t.Fatalf("speed %g outside [0, %g]", *fx.Speed, MaxSpeed)
		}
		if *fx.Acc <= 0 {
			t.Fatalf("acc %g not set", *fx.Acc)
		}
		if d := geo.Haversine(geo.Point{Lat: fx.Lat, Lon: fx.Lon}, geo.Point{Lat: -33.87, Lon: 151.21}); d > 2000+1000 {
			t.Fatalf("%s strayed %.0f m from the centre (radius 2000)", fx.Device, d)
		}
		if *fx.Speed == 0 {
			stopped++
		} else {
			moving++
		}
		if !seenHeading[*fx.Heading] {
			seenHeading[*fx.Heading] = true
			headings++
		}
	}
	// A street grid has four directions; all of them get used, and devices
	// both stop and drive.
	if headings != 4 {
		t.Errorf("%d distinct headings, want the 4 of the grid", headings)
	}
	if stopped == 0 || moving < stopped {
		t.Errorf("%d stopped and %d moving fixes: want both, mostly moving", stopped, moving)
	}
}

func TestBatteryDrains(t *testing.T) {
	f := mustFleet(t, Config{Devices: 5, Seed: 2, Rate: 1.0 / 60})
	first := map[string]float64{}
	last := map[string]float64{}
	for _, fx := range run(f, 2*time.Hour, 10*time.Minute) {
		if _, ok := first[fx.Device]; !ok {
			first[fx.Device] = *fx.Battery
		}
		if *fx.Battery > last[fx.Device] && last[fx.Device] != 0 {
			t.Fatalf("%s battery rose from %g to %g", fx.Device, last[fx.Device], *fx.Battery)
		}
		last[fx.Device] = *fx.Battery
	}
	for dev, b := range first {
		if drop := b - last[dev]; drop < 0.03 || drop > 0.17 {
			t.Errorf("%s battery dropped %.3f in 2h, want 2–8 %%/h", dev, drop)
		}
	}
}

// Without noise, speed and heading must describe the movement between
// consecutive fixes: the distance covered in a second lies between the
// speeds at its ends (they change by at most a second of acceleration), and
// the direction of travel is the reported heading unless the device turned.
func TestSpeedAndHeadingMatchMovement(t *testing.T) {
	f := mustFleet(t, Config{Devices: 20, Seed: 5, NoiseM: -1})
	type state struct {
		p       geo.Point
		speed   float64
		heading float64
	}
	prev := map[string]state{}
	var checked, headingOK, speedOK int
	f.advance(start.Add(20*time.Minute), func(fx fix.Fix, truth geo.Point) {
		if fx.Lat != round(truth.Lat, 1e-7) {
			t.Fatalf("with noise off the fix must be the true position")
		}
		p := geo.Point{Lat: fx.Lat, Lon: fx.Lon}
		s, ok := prev[fx.Device]
		prev[fx.Device] = state{p, *fx.Speed, *fx.Heading}
		if !ok || s.speed < 3 || *fx.Speed < 3 {
			return
		}
		checked++
		dist := geo.Haversine(s.p, p)
		lo, hi := min(s.speed, *fx.Speed)-decel, max(s.speed, *fx.Speed)+accel
		if dist >= lo-0.05 && dist <= hi+0.05 {
			speedOK++
		}
		if s.heading == *fx.Heading && dist > 1 {
			if diff := angleDiff(geo.InitialBearing(s.p, p), *fx.Heading); diff < 1 {
				headingOK++
			}
		} else {
			headingOK++ // turned at an intersection in between
		}
	})
	if checked < 1000 {
		t.Fatalf("only %d moving pairs checked", checked)
	}
	// A step that ends at an intersection is shortened (the remainder is
	// dropped), so a small share of pairs cover less than their speed says.
	if float64(speedOK) < 0.9*float64(checked) || float64(headingOK) < 0.97*float64(checked) {
		t.Fatalf("of %d pairs, distance matched speed in %d and bearing matched heading in %d", checked, speedOK, headingOK)
	}
}

func angleDiff(a, b float64) float64 {
	d := math.Abs(math.Mod(a-b+540, 360) - 180)
	return d
}

// The reported positions scatter around the true ones with σ≈3 m per axis
// and no bias.
func TestNoiseStatistics(t *testing.T) {
	f := mustFleet(t, Config{Devices: 50, Seed: 9})
	pl := geo.NewPlane(London)
	var n, sx, sy, sxx, syy, accSum float64
	f.advance(start.Add(2*time.Minute), func(fx fix.Fix, truth geo.Point) {
		fxX, fxY := pl.Project(geo.Point{Lat: fx.Lat, Lon: fx.Lon})
		tX, tY := pl.Project(truth)
		dx, dy := fxX-tX, fxY-tY
		n++
		sx, sy, sxx, syy = sx+dx, sy+dy, sxx+dx*dx, syy+dy*dy
		accSum += *fx.Acc
	})
	if n < 5000 {
		t.Fatalf("only %g samples", n)
	}
	meanX, meanY := sx/n, sy/n
	sdX, sdY := math.Sqrt(sxx/n-meanX*meanX), math.Sqrt(syy/n-meanY*meanY)
	if math.Abs(meanX) > 0.2 || math.Abs(meanY) > 0.2 {
		t.Errorf("noise is biased: mean (%.3f, %.3f) m", meanX, meanY)
	}
	if math.Abs(sdX-3) > 0.2 || math.Abs(sdY-3) > 0.2 {
		t.Errorf("noise σ = (%.3f, %.3f) m, want ≈3", sdX, sdY)
	}
	if mean := accSum / n; mean < 3 || mean > 4.5 {
		t.Errorf("mean acc %.2f m, want a little above σ", mean)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no devices", Config{Start: start}, "devices"},
		{"no start", Config{Devices: 1}, "start"},
		{"negative rate", Config{Devices: 1, Start: start, Rate: -1}, "rate"},
		{"polar centre", Config{Devices: 1, Start: start, Center: geo.Point{Lat: 89, Lon: 0}}, "centre"},
	}
	for _, c := range cases {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
		}
	}
}

func TestDeviceIDs(t *testing.T) {
	f := mustFleet(t, Config{Devices: 12})
	ids := f.DeviceIDs()
	if len(ids) != 12 || ids[0] != "sim-00" || ids[11] != "sim-11" {
		t.Fatalf("ids %v", ids)
	}
	for _, id := range ids {
		if !fix.ValidDevice(id) {
			t.Fatalf("invalid id %q", id)
		}
	}
}

func BenchmarkAdvance(b *testing.B) {
	f, err := New(Config{Devices: 1000, Start: start})
	if err != nil {
		b.Fatal(err)
	}
	t := start
	b.ReportAllocs()
	for b.Loop() {
		t = t.Add(time.Second)
		if len(f.Advance(t)) != 1000 {
			b.Fatal("want one fix per device per second")
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "fixes/s")
}
