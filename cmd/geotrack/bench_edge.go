package main

import (
	"context"
	"flag"
	"os"

	"github.com/geotrack/geotrack/internal/edgebench"
)

func init() {
	registerBench(command{name: "edge", summary: "edge filtering: bytes forwarded and deviation vs AWS-style filters", run: runBenchEdge})
}

func runBenchEdge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench edge", flag.ContinueOnError)
	tracks := fs.String("tracks", "testdata/tracks", "folder of recorded .gpx tracks")
	simulated := fs.Int("simulated", 4, "number of simulated vehicle tracks to add")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return edgebench.Main(os.Stdout, *tracks, *simulated)
}
