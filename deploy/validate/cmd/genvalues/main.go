// Command genvalues rewrites the functions: block of the Helm chart's
// values.yaml from stack.yml, so both describe the same functions.
//
//	cd deploy/validate && go run ./cmd/genvalues
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/geotrack/geotrack/deploy/validate"
)

func main() {
	stackPath := flag.String("stack", "../../stack.yml", "stack.yml path")
	valuesPath := flag.String("values", "../../charts/geotrack/values.yaml", "chart values.yaml path")
	flag.Parse()
	if err := run(*stackPath, *valuesPath); err != nil {
		slog.Error("genvalues failed", "err", err)
		os.Exit(1)
	}
}

func run(stackPath, valuesPath string) error {
	stack, err := validate.LoadStack(stackPath)
	if err != nil {
		return err
	}
	block, err := validate.GeneratedBlock(stack)
	if err != nil {
		return err
	}
	values, err := os.ReadFile(valuesPath)
	if err != nil {
		return fmt.Errorf("read values: %w", err)
	}
	out, err := validate.ReplaceGenerated(values, block)
	if err != nil {
		return err
	}
	if err := os.WriteFile(valuesPath, out, 0o644); err != nil {
		return fmt.Errorf("write values: %w", err)
	}
	slog.Info("functions block regenerated", "values", valuesPath, "functions", len(stack.Functions))
	return nil
}
