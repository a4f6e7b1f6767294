package e2e

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/functions"
)

// authzMatrixOf names, for every function of the pack, the e2e test that
// runs it against every role, broken credentials and another tenant. A new
// function gets its rows in such a test and its line here.
var authzMatrixOf = map[string]string{
	"alerts":          "TestAlertFunctionsRoleMatrix",
	"dashboard":       "TestDashboardRoleMatrix",
	"edge-ingest":     "TestEdgeFunctionsRoleTenantMatrix",
	"events":          "TestGeofenceRoleFunctionTenantMatrix",
	"forwarder":       "TestForwarderRoleTenantMatrix",
	"geofence-detect": "TestGeofenceRoleFunctionTenantMatrix",
	"geofences":       "TestGeofenceRoleFunctionTenantMatrix",
	"ingest":          "TestRoleFunctionTenantMatrix",
	"movement":        "TestMovementFunctionsRoleTenantMatrix",
	"nearby":          "TestRoleFunctionTenantMatrix",
	"notify":          "TestAlertFunctionsRoleMatrix",
	"osmand":          "TestEdgeFunctionsRoleTenantMatrix",
	"owntracks":       "TestEdgeFunctionsRoleTenantMatrix",
	"position":        "TestRoleFunctionTenantMatrix",
	"preferences":     "TestMovementFunctionsRoleTenantMatrix",
	"rules":           "TestAlertFunctionsRoleMatrix",
	"track":           "TestRoleFunctionTenantMatrix",
	"archiver":        "TestArchiverRoleTenantMatrix",
	"trips":           "TestMovementFunctionsRoleTenantMatrix",
	// Issue 12 (h16).
	"audit":  "TestSecurityFunctionsRoleTenantMatrix",
	"tokens": "TestSecurityFunctionsRoleTenantMatrix",
	// Issue 12 §1 (h20).
	"privacy": "TestPrivacyRoleTenantMatrix",
}

// TestEveryFunctionHasAnAuthzMatrix fails when a function of the pack has
// no authz matrix named in authzMatrixOf, when the table names a function
// the pack does not have, or a test that the e2e package does not define.
func TestEveryFunctionHasAnAuthzMatrix(t *testing.T) {
	pack := functions.Names()
	for _, name := range pack {
		if _, ok := authzMatrixOf[name]; !ok {
			t.Errorf("function %s has no role × function × tenant matrix: add its rows to an e2e test and name the test in authzMatrixOf", name)
		}
	}
	for name := range authzMatrixOf {
		if !slices.Contains(pack, name) {
			t.Errorf("authzMatrixOf names %s, which is not a function of the pack %v", name, pack)
		}
	}
	defined := e2eTests(t)
	for name, test := range authzMatrixOf {
		if !defined[test] {
			t.Errorf("authzMatrixOf[%q] is %s, which no e2e/*_test.go defines", name, test)
		}
	}
}

// e2eTests is the set of top-level Test functions of this package's files.
func e2eTests(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no e2e test files found in the working directory")
	}
	tests := map[string]bool{}
	fset := gotoken.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				tests[fn.Name.Name] = true
			}
		}
	}
	return tests
}
