package apidoc

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/geotrack/geotrack/functions"
)

// specPath is openapi.yaml at the repository root, relative to this package.
const specPath = "../../openapi.yaml"

// functionsDir holds one directory per function of the pack.
const functionsDir = "../../functions"

func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	return doc
}

func mapAt(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := m
	for i, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("%s is missing or not a mapping", strings.Join(keys[:i+1], "."))
		}
		cur = next
	}
	return cur
}

func TestOpenAPIVersion(t *testing.T) {
	doc := loadSpec(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi: %q, want 3.1.x", v)
	}
	info := mapAt(t, doc, "info")
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			t.Errorf("info.%s is empty", k)
		}
	}
}

func TestEveryHTTPFunctionHasAPath(t *testing.T) {
	doc := loadSpec(t)
	paths := mapAt(t, doc, "paths")
	// Every function of the pack is an HTTP API, and no path documents a
	// function the pack does not have.
	want := functions.Names()
	for p := range paths {
		if name, ok := strings.CutPrefix(p, "/function/"); ok && !slices.Contains(want, name) {
			t.Errorf("path %s documents no function of the pack %v", p, want)
		}
	}
	for _, name := range want {
		p := "/function/" + name
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("no path %s for function %s", p, name)
			continue
		}
		ops := 0
		for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			ops++
			if _, ok := op["responses"].(map[string]any); !ok {
				t.Errorf("%s %s has no responses", m, p)
			}
		}
		if ops == 0 {
			t.Errorf("path %s has no operation", p)
		}
	}
}

// TestRefsResolve walks the whole document and resolves every $ref against
// the components.
func TestRefsResolve(t *testing.T) {
	doc := loadSpec(t)
	var refs []string
	collectRefs(doc, &refs)
	if len(refs) == 0 {
		t.Fatal("no $ref found; the walk is broken")
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("$ref %q does not point into #/components/", ref)
			continue
		}
		if _, err := resolve(doc, ref); err != nil {
			t.Errorf("$ref %q: %v", ref, err)
		}
	}
}

func collectRefs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if k == "$ref" {
				if s, ok := child.(string); ok {
					*out = append(*out, s)
					continue
				}
			}
			collectRefs(child, out)
		}
	case []any:
		for _, child := range x {
			collectRefs(child, out)
		}
	}
}

// resolve follows a local JSON pointer (RFC 6901).
func resolve(doc map[string]any, ref string) (any, error) {
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, &missingError{tok}
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, &missingError{tok}
			}
			cur = c[i]
		default:
			return nil, &missingError{tok}
		}
	}
	return cur, nil
}

type missingError struct{ tok string }

func (e *missingError) Error() string { return "no member " + strconv.Quote(e.tok) }

// TestSecuritySchemesExist checks that every security requirement names a
// declared scheme.
func TestSecuritySchemesExist(t *testing.T) {
	doc := loadSpec(t)
	schemes := mapAt(t, doc, "components", "securitySchemes")
	check := func(where string, reqs any) {
		list, _ := reqs.([]any)
		for _, r := range list {
			m, _ := r.(map[string]any)
			for name := range m {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s: security scheme %q is not declared", where, name)
				}
			}
		}
	}
	check("security", doc["security"])
	for p, item := range mapAt(t, doc, "paths") {
		ops, _ := item.(map[string]any)
		for m, op := range ops {
			if o, ok := op.(map[string]any); ok {
				check(m+" "+p, o["security"])
			}
		}
	}
}

// Query parameters as the functions read them: q.Get("x") / query.Get("x")
// on the url.Values, and the httpkit helpers httpkit.QueryFloat(q, "x", ...),
// httpkit.QueryInt(q, "x", ...), httpkit.QueryTime(q, "x").
var (
	getRe    = regexp.MustCompile(`\b(?:q|query)\.Get\("([^"]+)"\)`)
	helperRe = regexp.MustCompile(`\bhttpkit\.Query(?:Float|Int|Time)\(\s*q\s*,\s*"([^"]+)"`)
)

// codeQueryParams returns the query parameter names read by the non-test Go
// files of functions/<name>.
func codeQueryParams(t *testing.T, name string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(functionsDir, name, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{getRe, helperRe} {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				set[m[1]] = true
			}
		}
	}
	return sortedKeys(set)
}

// specQueryParams returns the names of the query parameters of every
// operation of path, following parameter $refs.
func specQueryParams(t *testing.T, doc map[string]any, path string) []string {
	t.Helper()
	item := mapAt(t, doc, "paths", path)
	set := map[string]bool{}
	add := func(params any) {
		list, _ := params.([]any)
		for _, p := range list {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				r, err := resolve(doc, ref)
				if err != nil {
					t.Fatalf("%s: $ref %q: %v", path, ref, err)
				}
				pm, _ = r.(map[string]any)
			}
			if pm["in"] == "query" {
				name, _ := pm["name"].(string)
				set[name] = true
			}
		}
	}
	add(item["parameters"])
	for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
		if op, ok := item[m].(map[string]any); ok {
			add(op["parameters"])
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestQueryParamsMatchCode keeps the documented query parameters of the read
// functions equal to the ones their code reads.
func TestQueryParamsMatchCode(t *testing.T) {
	doc := loadSpec(t)
	for _, name := range []string{"nearby", "track", "position", "geofences", "events"} {
		code := codeQueryParams(t, name)
		if len(code) == 0 {
			t.Errorf("%s: found no query parameters in the code; has the way it reads them changed?", name)
			continue
		}
		spec := specQueryParams(t, doc, "/function/"+name)
		if !slices.Equal(code, spec) {
			t.Errorf("%s: query parameters in the code %v, in openapi.yaml %v", name, code, spec)
		}
	}
}

// codeConst reads an integer constant `name = 1_000` from functions/<fn>/<fn>.go.
func codeConst(t *testing.T, fn, name string) float64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(functionsDir, fn, fn+".go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\b` + name + `\s*=\s*([0-9_]+)`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s: constant %s not found", fn, name)
	}
	v, err := strconv.Atoi(strings.ReplaceAll(string(m[1]), "_", ""))
	if err != nil {
		t.Fatal(err)
	}
	return float64(v)
}

// TestQueryLimitsMatchCode checks the documented maximum and default of the
// read functions' limits against the constants in their code.
func TestQueryLimitsMatchCode(t *testing.T) {
	doc := loadSpec(t)
	type bound struct{ max, def float64 } // def -1: no default
	want := map[string]map[string]bound{
		"nearby": {
			"radius": {codeConst(t, "nearby", "MaxRadiusM"), -1},
			"limit":  {codeConst(t, "nearby", "MaxLimit"), codeConst(t, "nearby", "DefaultLimit")},
		},
		"track": {
			"limit":      {codeConst(t, "track", "MaxLimit"), codeConst(t, "track", "DefaultLimit")},
			"max_points": {codeConst(t, "track", "MaxPoints"), -1},
			"simplify":   {codeConst(t, "track", "MaxSimplifyM"), -1},
		},
		"geofences": {
			"limit": {codeConst(t, "geofences", "MaxLimit"), codeConst(t, "geofences", "DefaultLimit")},
		},
		"position": {
			"limit": {codeConst(t, "position", "MaxFleetLimit"), codeConst(t, "position", "DefaultFleetLimit")},
		},
	}
	for fn, params := range want {
		path := "/function/" + fn
		op := mapAt(t, doc, "paths", path, "get")
		list, _ := op["parameters"].([]any)
		for name, w := range params {
			var schema map[string]any
			for _, p := range list {
				pm, _ := p.(map[string]any)
				if pm["name"] == name && pm["in"] == "query" {
					schema, _ = pm["schema"].(map[string]any)
				}
			}
			if schema == nil {
				t.Errorf("%s: no schema for query parameter %s", path, name)
				continue
			}
			if got := number(schema["maximum"]); got != w.max {
				t.Errorf("%s %s: maximum %v, the code says %v", path, name, got, w.max)
			}
			if w.def >= 0 {
				if got := number(schema["default"]); got != w.def {
					t.Errorf("%s %s: default %v, the code says %v", path, name, got, w.def)
				}
			}
		}
	}
}

func number(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	return -1
}
