package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/httpkit"
)

func init() {
	register(command{name: "serve", summary: "serve one function over HTTP: geotrack serve <function> (default $FUNCTION)", run: runServe})
	register(command{name: "probe", summary: "GET a URL and fail unless it answers 200 (container health checks, helm test)", run: runProbe})
	register(command{name: "invoke", summary: "POST to a function URL (scheduled jobs): geotrack invoke URL [--token T | --token-file F] [--timeout D]", run: runInvoke})
}

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address (default :$PORT, PORT defaults to 8080)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	name := fs.Arg(0)
	if name == "" {
		name = os.Getenv("FUNCTION")
	}
	if name == "" {
		return errors.New("serve: name a function (or set FUNCTION)")
	}
	spec, err := functions.Lookup(name)
	if err != nil {
		return err
	}
	opts, err := httpkit.OptionsFromEnv(name)
	if err != nil {
		return err
	}
	deps := &functions.Deps{Metrics: opts.Metrics} // /metrics shows this function's series only
	defer deps.Close()
	built, err := spec.Build(ctx, deps)
	if err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	if built.Close != nil {
		defer built.Close()
	}
	opts.Ready = built.Ready
	opts.ReadyDetail = built.ReadyDetail
	if *addr == "" {
		*addr = ":" + os.Getenv("PORT")
		if *addr == ":" {
			*addr = ":8080"
		}
	}
	opts.Name = name
	return httpkit.ServeHandler(ctx, built.Serve(opts), opts, *addr)
}

func runProbe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "request timeout")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("probe: give one URL")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", fs.Arg(0), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: %s: %s", fs.Arg(0), resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Println(resp.Status)
	return nil
}

func runInvoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	token := fs.String("token", os.Getenv("GEOTRACK_TOKEN"), "bearer token (default $GEOTRACK_TOKEN)")
	tokenFile := fs.String("token-file", "", "read the bearer token from this file (a mounted secret); wins over --token")
	timeout := fs.Duration("timeout", 60*time.Second, "request timeout")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("invoke: give one URL")
	}
	if *tokenFile != "" {
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("invoke: --token-file: %w", err)
		}
		*token = strings.TrimSpace(string(raw))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fs.Arg(0), strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", fs.Arg(0), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	fmt.Printf("%s %s\n", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("invoke %s: %s", fs.Arg(0), resp.Status)
	}
	return nil
}

// reorder moves positional arguments after the flags, so both
// `serve ingest --addr x` and `serve --addr x ingest` work with package flag.
func reorder(args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(flags, positional...)
}

// isBoolFlag lists the boolean flags of the CLI, which take no value.
func isBoolFlag(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "h", "help", "no-simulate", "quiet", "json":
		return true
	}
	return false
}
