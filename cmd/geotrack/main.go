// Command geotrack serves geotrack's functions and drives them: a local dev
// runner, token minting, simulation, replay and import, and benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one CLI verb. Each lives in its own file and registers itself.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// benchCommands are the targets of `geotrack bench <target>`.
var benchCommands = map[string]command{}

func registerBench(c command) { benchCommands[c.name] = c }

func init() {
	register(command{name: "bench", summary: "run a benchmark: " + names(benchCommands), run: runBench})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "geotrack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:])
}

func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("bench: name a target: %s", names(benchCommands))
	}
	c, ok := benchCommands[args[0]]
	if !ok {
		return fmt.Errorf("bench: unknown target %q (have %s)", args[0], names(benchCommands))
	}
	return c.run(ctx, args[1:])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: geotrack <command> [flags]\n\ncommands:")
	for _, n := range sortedKeys(commands) {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func names(m map[string]command) string {
	// Called from init for the bench summary: targets registered later are
	// listed by runBench's error instead.
	s := ""
	for i, n := range sortedKeys(m) {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	if s == "" {
		return "see geotrack bench"
	}
	return s
}

func sortedKeys(m map[string]command) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
