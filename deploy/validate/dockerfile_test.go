package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfile checks the image recipe structurally: Docker cannot run in
// CI, so the properties the deployment relies on are asserted here.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	globalArgs, stages, err := ParseDockerfile(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	goVersion := ""
	for _, a := range globalArgs {
		if k, v, ok := strings.Cut(a.Args, "="); ok && k == "GO_VERSION" {
			goVersion = v
		}
	}
	builder := strings.ReplaceAll(build.From, "${GO_VERSION}", goVersion)
	if !regexp.MustCompile(`^golang:1\.(2[6-9]|[3-9][0-9])`).MatchString(builder) {
		t.Errorf("builder image %q is not golang:1.26 or newer", builder)
	}
	run := strings.Join(argsOf(build.Find("RUN")), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "GOARCH=${TARGETARCH}", "GOOS=${TARGETOS", "./cmd/geotrack"} {
		if !strings.Contains(run, want) {
			t.Errorf("build RUN lacks %q", want)
		}
	}
	buildArgs := argsOf(build.Find("ARG"))
	for _, want := range []string{"TARGETOS", "TARGETARCH"} {
		if !slices.Contains(buildArgs, want) {
			t.Errorf("builder stage does not declare ARG %s (buildx multi-arch)", want)
		}
	}

	if final.From != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final image %q, want gcr.io/distroless/static-debian12:nonroot", final.From)
	}
	if len(final.Find("RUN")) > 0 {
		t.Error("final stage has RUN: distroless has no shell")
	}
	if !slices.Contains(argsOf(final.Find("ARG")), "FUNCTION") {
		t.Error("final stage does not declare ARG FUNCTION")
	}
	env := strings.Join(argsOf(final.Find("ENV")), " ")
	if !strings.Contains(env, "FUNCTION=${FUNCTION}") {
		t.Errorf("final stage does not carry FUNCTION into the image env: %q", env)
	}
	users := argsOf(final.Find("USER"))
	if len(users) == 0 || !regexp.MustCompile(`^(65532(:65532)?|nonroot(:nonroot)?)$`).MatchString(users[len(users)-1]) {
		t.Errorf("final USER %v is not the distroless nonroot user", users)
	}
	eps := final.Find("ENTRYPOINT")
	if len(eps) != 1 {
		t.Fatalf("want one ENTRYPOINT, got %d", len(eps))
	}
	if words, ok := ExecForm(eps[0].Args); !ok || !slices.Equal(words, []string{"/geotrack", "serve"}) {
		t.Errorf(`ENTRYPOINT %s, want exec form ["/geotrack", "serve"]`, eps[0].Args)
	}
	for _, c := range final.Find("CMD") {
		if _, ok := ExecForm(c.Args); !ok {
			t.Errorf("CMD %q is shell form: distroless has no shell", c.Args)
		}
	}
	copied := false
	for _, c := range final.Find("COPY") {
		if slices.Contains(c.Flags, "--from="+build.Name) && strings.HasSuffix(c.Args, " /geotrack") {
			copied = true
		}
	}
	if !copied {
		t.Errorf("final stage does not COPY --from=%s the binary to /geotrack", build.Name)
	}
	if !slices.Contains(argsOf(final.Find("EXPOSE")), "8080") {
		t.Error("final stage does not EXPOSE 8080")
	}
}

func argsOf(ins []Instruction) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Args
	}
	return out
}

// TestDockerignore: the build context keeps what `go build` needs and drops
// VCS data and deployment files.
func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, must := range []string{".git", "charts", "deploy"} {
		if !slices.Contains(patterns, must) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd", "internal", "functions", "*.go", "**/*.go"} {
		if slices.Contains(patterns, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}

// TestDockerignoreKeepsEmbeds: files pulled in with //go:embed by non-test
// code must reach the build context, or the image build fails.
func TestDockerignoreKeepsEmbeds(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	embedRe := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	var embeds int
	err = filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			if rel == ".git" || rel == "deploy" || d.Name() == "testdata" || ignored(patterns, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range embedRe.FindAllStringSubmatch(string(src), -1) {
			for _, f := range strings.Fields(m[1]) {
				embeds++
				target := filepath.ToSlash(filepath.Join(filepath.Dir(rel), f))
				if ignored(patterns, target) {
					t.Errorf("%s embeds %s, which .dockerignore excludes", rel, target)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if embeds == 0 {
		t.Log("no //go:embed directives found")
	}
}

// ignored approximates .dockerignore matching: a pattern matches the path
// or one of its parent directories; later "!" patterns re-include.
func ignored(patterns []string, rel string) bool {
	rel = filepath.ToSlash(rel)
	out := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if matchPathOrParent(p, rel) {
			out = !neg
		}
	}
	return out
}

func matchPathOrParent(pattern, rel string) bool {
	for cur := rel; cur != "." && cur != "/" && cur != ""; cur = filepath.ToSlash(filepath.Dir(cur)) {
		if ok, _ := filepath.Match(pattern, cur); ok {
			return true
		}
		if strings.HasPrefix(pattern, "**/") {
			if ok, _ := filepath.Match(strings.TrimPrefix(pattern, "**/"), filepath.Base(cur)); ok {
				return true
			}
		}
	}
	return false
}

func TestIgnored(t *testing.T) {
	patterns := []string{".git", "charts", "*.md", "!README.md", "**/*_test.go"}
	tests := map[string]bool{
		".git/config":           true,
		"charts/geotrack/x.yml": true,
		"DEPLOY.md":             true,
		"README.md":             false,
		"internal/a/b_test.go":  true,
		"internal/a/b.go":       false,
		"stack.yml":             false,
	}
	for path, want := range tests {
		if got := ignored(patterns, path); got != want {
			t.Errorf("ignored(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\nARG V=1\nFROM --platform=$BUILDPLATFORM golang:${V} AS b\nRUN a \\\n  # comment\n  b\nFROM scratch\nENTRYPOINT [\"/x\"]\n"
	args, stages, err := ParseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 1 || len(stages) != 2 || stages[0].Name != "b" || stages[1].From != "scratch" {
		t.Fatalf("parsed %+v %+v", args, stages)
	}
	if got := stages[0].Find("RUN")[0].Args; got != "a  b" {
		t.Errorf("joined RUN %q", got)
	}
	for _, bad := range []string{"RUN x\n", "FROM\n", "FROM a b\n", "FROM a\nRUN x \\\n"} {
		if _, _, err := ParseDockerfile(bad); err == nil {
			t.Errorf("ParseDockerfile(%q) accepted", bad)
		}
	}
}
