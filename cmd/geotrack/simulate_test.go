package main

import (
	"context"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/geo"
)

func TestParseCenter(t *testing.T) {
	cases := []struct {
		in   string
		want geo.Point
		err  bool
	}{
		{"51.5074,-0.1278", geo.Point{Lat: 51.5074, Lon: -0.1278}, false},
		{" -33.87 , 151.21 ", geo.Point{Lat: -33.87, Lon: 151.21}, false},
		{"51.5", geo.Point{}, true},
		{"a,b", geo.Point{}, true},
		{"85,0", geo.Point{}, true},
		{"0,181", geo.Point{}, true},
	}
	for _, c := range cases {
		got, err := parseCenter(c.in)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("parseCenter(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestSimulateEndToEnd(t *testing.T) {
	in := startIngest(t)
	t.Setenv("GEOTRACK_JWT_SECRET", in.secret)
	err := runSimulate(context.Background(), []string{"--devices", "3", "--rate", "2", "--duration", "3s",
		"--url", in.url, "--tenant", in.tenant, "--prefix", "simtest-", "--center", "-33.87,151.21", "--seed", "4"})
	if err != nil {
		t.Fatal(err)
	}
	devices, err := in.store.Devices(context.Background(), in.tenant)
	if err != nil {
		t.Fatal(err)
	}
	var sim []string
	for _, d := range devices {
		if strings.HasPrefix(d, "simtest-") {
			sim = append(sim, d)
		}
	}
	if len(sim) != 3 {
		t.Fatalf("devices %v, want the 3 simulated ones", devices)
	}
	for _, d := range sim {
		last, ok, err := in.store.Latest(context.Background(), in.tenant, d)
		if err != nil || !ok {
			t.Fatalf("latest of %s: ok=%v err=%v", d, ok, err)
		}
		if dist := geo.Haversine(geo.Point{Lat: last.Lat, Lon: last.Lon}, geo.Point{Lat: -33.87, Lon: 151.21}); dist > 7000 {
			t.Errorf("%s is %.0f m from the centre", d, dist)
		}
		if last.Speed == nil || last.Heading == nil || last.Battery == nil || last.Acc == nil {
			t.Errorf("%s: optional fields not stored: %+v", d, last)
		}
	}
}

func TestSimulateNeedsCredentials(t *testing.T) {
	t.Setenv("GEOTRACK_JWT_SECRET", "")
	t.Setenv("GEOTRACK_TOKEN", "")
	err := runSimulate(context.Background(), []string{"--devices", "1", "--duration", "1s", "--url", "http://127.0.0.1:1/"})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("err = %v, want a hint about the token", err)
	}
}
