package track_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/track"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// TestHandleWholeRange: all=true answers the whole range in one response
// with no cursor, from the stream (limit 0 in the recorded call).
func TestHandleWholeRange(t *testing.T) {
	cases := []ht.Case{
		ht.Row("json", get("device=d1&all=true", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"),
			ht.NoHeader("X-Next-Cursor"), ht.NoHeader("Link"), ht.JSON("next", ""), ht.JSONLen("points", 3), ht.JSON("points.2.lat", 51.7)),
		ht.Row("json from a cursor", get("device=d1&all=true&cursor=c2", ht.ViewerToken), ht.Status(http.StatusOK), ht.JSONLen("points", 1)),
		ht.Row("geojson", get("device=d1&all=true&format=geojson", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/geo+json"),
			ht.JSON("features.0.geometry.coordinates", [][]float64{{-0.12, 51.5}, {-0.13, 51.6}, {-0.14, 51.7}})),
		ht.Row("gpx", get("device=d1&all=true&format=gpx", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Disposition", `attachment; filename="d1.gpx"`),
			ht.BodyContains(`<trkpt lat="51.5" lon="-0.12">`, `<trkpt lat="51.7" lon="-0.14">`)),
		ht.Row("all=false pages", get("device=d1&all=false&limit=2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("X-Next-Cursor", "c2")),
		ht.Row("store down at the open", get("device=broken&all=true", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
		ht.Row("store down in the middle", get("device=flaky&all=true", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection reset")),
		ht.Row("forged cursor", get("device=d1&all=true&cursor=forged", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("cursor")),
		ht.Row("HEAD has the headers only", ht.Request(http.MethodHead, "device=d1&all=true&format=gpx", ht.ViewerToken, nil, ""), ht.Status(http.StatusOK),
			ht.Header("Content-Type", "application/gpx+xml"), ht.Body("")),
	}
	ht.Run(t, track.New(&fakeHistory{}, ht.Verifier{}), cases)
}

// TestHandleSimplify: simplify keeps the ends of a straight line and what
// the window forces; max_points keeps at most N; both on a page or the
// whole range.
func TestHandleSimplify(t *testing.T) {
	cases := []ht.Case{
		ht.Row("simplify a straight line", get("device=line&all=true&simplify=5", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("points.0.ts", "2026-11-29T12:00:00.000Z"), pointsAtMost(1000/32+2)),
		ht.Row("max_points 2", get("device=line&all=true&max_points=2", ht.ViewerToken), ht.Status(http.StatusOK), ht.JSONLen("points", 2),
			ht.JSON("points.1.ts", "2026-11-29T12:16:39.000Z")),
		ht.Row("max_points with simplify", get("device=line&all=true&max_points=3&simplify=1&format=geojson", ht.ViewerToken), ht.Status(http.StatusOK),
			ht.JSON("features.0.geometry.type", "LineString"), pointsAtMost(3)),
		ht.Row("simplify a page", get("device=d1&limit=2&simplify=1000000", ht.ViewerToken), ht.Status(http.StatusOK), ht.JSONLen("points", 2), ht.Header("X-Next-Cursor", "c2")),
	}
	ht.Run(t, track.New(&fakeHistory{}, ht.Verifier{}), cases)
}

// pointsAtMost checks that the body's track has 2..n points, in the JSON
// or GeoJSON format.
func pointsAtMost(n int) ht.Matcher {
	return func(t testing.TB, resp handler.Response) {
		t.Helper()
		var body struct {
			Points   []json.RawMessage `json:"points"`
			Features []struct {
				Geometry struct {
					Coordinates []json.RawMessage `json:"coordinates"`
				} `json:"geometry"`
			} `json:"features"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatalf("body: %v", err)
		}
		count := len(body.Points)
		if len(body.Features) > 0 {
			count = len(body.Features[0].Geometry.Coordinates)
		}
		if count > n || count < 2 {
			t.Errorf("%d points, want 2..%d", count, n)
		}
	}
}

func TestHandleExportRefusals(t *testing.T) {
	cases := []ht.Case{
		ht.Row("all not a boolean", get("device=d1&all=yes", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("all", `"yes"`)),
		ht.Row("all with limit", get("device=d1&all=true&limit=5", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit", "all=true")),
		ht.Row("simplify zero", get("device=d1&simplify=0", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("simplify")),
		ht.Row("simplify negative", get("device=d1&simplify=-3", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("simplify")),
		ht.Row("simplify not a number", get("device=d1&simplify=far", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("simplify", "finite")),
		ht.Row("simplify NaN", get("device=d1&simplify=NaN", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("simplify", "finite")),
		ht.Row("simplify too large", get("device=d1&simplify=1e9", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("simplify")),
		ht.Row("max_points 1", get("device=d1&max_points=1", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("max_points")),
		ht.Row("max_points over the maximum", get("device=d1&max_points=100001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("max_points")),
		ht.Row("max_points not an integer", get("device=d1&max_points=2.5", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("max_points")),
		ht.Row("viewer of no tenant may not export", get("device=d1&all=true", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
	}
	h := &fakeHistory{}
	ht.Run(t, track.New(h, ht.Verifier{}), cases)
	if len(h.calls) != 0 {
		t.Fatalf("refused requests reached the history: %+v", h.calls)
	}
}

// TestStreamedBodyIsHandlesBody: served by the runtime, which prefers
// HandleStream, every format answers the bytes Handle builds in memory,
// and the JSON page is httpkit.JSON's encoding of Result.
func TestStreamedBodyIsHandlesBody(t *testing.T) {
	fn := track.New(&fakeHistory{}, ht.Verifier{})
	srv := httptest.NewServer(httpkit.FunctionHandler(fn, httpkit.Options{Name: "track", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	for _, query := range []string{"device=d1&limit=2", "device=d1&format=geojson", "device=d1&format=gpx&cursor=c2", "device=d1&all=true&format=gpx",
		"device=line&all=true&simplify=2&format=geojson", "device=d1&cursor=forged"} {
		t.Run(query, func(t *testing.T) {
			want, _ := fn.Handle(get(query, ht.ViewerToken))
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?"+query, nil)
			req.Header.Set("Authorization", "Bearer "+ht.ViewerToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != want.StatusCode || string(got) != string(want.Body) {
				t.Fatalf("streamed %d %q (%v)\nHandle %d %q", resp.StatusCode, got, err, want.StatusCode, want.Body)
			}
			for _, h := range []string{"Content-Type", "X-Next-Cursor", "Link", "Content-Disposition"} {
				if resp.Header.Get(h) != want.Header.Get(h) {
					t.Errorf("%s: streamed %q, Handle %q", h, resp.Header.Get(h), want.Header.Get(h))
				}
			}
		})
	}
	page, _ := fn.Handle(get("device=d1&limit=2", ht.ViewerToken))
	ref := httpkit.JSON(http.StatusOK, track.Result{Device: "d1", Points: page1.Fixes, Next: "c2"})
	if string(page.Body) != string(ref.Body) {
		t.Fatalf("JSON page %q, httpkit.JSON %q", page.Body, ref.Body)
	}
}
