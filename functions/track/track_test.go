package track_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/track"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/locate"
)

// historyCall is one call the fake history reader received.
type historyCall struct {
	tenant, device string
	from, to       time.Time
	limit          int
	cursor         string
}

// fakeHistory serves two pages of device d1: the first (cursor "") ends
// with cursor "c2", the second ends the track. Device "broken" is a store
// that is down; any other cursor is refused as locate.Service refuses one.
type fakeHistory struct {
	calls []historyCall
}

var (
	t0    = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	page1 = locate.Page{Fixes: []fix.Fix{
		{Device: "d1", TS: t0, Lat: 51.5, Lon: -0.12, Speed: fix.Float(2)},
		{Device: "d1", TS: t0.Add(time.Second), Lat: 51.6, Lon: -0.13},
	}, Next: "c2"}
	page2 = locate.Page{Fixes: []fix.Fix{{Device: "d1", TS: t0.Add(2 * time.Second), Lat: 51.7, Lon: -0.14}}}
)

func (h *fakeHistory) History(_ context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	h.calls = append(h.calls, historyCall{tenant, device, from, to, limit, cursor})
	switch {
	case device == "broken":
		return locate.Page{}, errors.New("read history: redis: connection refused")
	case cursor == "":
		return page1, nil
	case cursor == "c2":
		return page2, nil
	}
	return locate.Page{}, &fix.FieldError{Field: "cursor", Msg: locate.ErrBadCursor.Error()}
}

// OpenHistory streams both pages from the start, or the second from cursor
// "c2"; device "broken" fails at the open, device "flaky" after its first
// fix, device "line" is 1,000 fixes on a straight line.
func (h *fakeHistory) OpenHistory(_ context.Context, tenant, device string, from, to time.Time, cursor string) (track.FixStream, error) {
	h.calls = append(h.calls, historyCall{tenant, device, from, to, 0, cursor})
	switch {
	case device == "broken":
		return nil, errors.New("read history: redis: connection refused")
	case device == "flaky":
		return &sliceStream{fixes: page1.Fixes[:1], err: errors.New("read archived history: minio: connection reset")}, nil
	case device == "line":
		return &sliceStream{fixes: straightLine(1000)}, nil
	case cursor == "":
		return &sliceStream{fixes: append(slices.Clone(page1.Fixes), page2.Fixes...)}, nil
	case cursor == "c2":
		return &sliceStream{fixes: page2.Fixes}, nil
	}
	return nil, &fix.FieldError{Field: "cursor", Msg: locate.ErrBadCursor.Error()}
}

// sliceStream yields fixes, then fails with err when set.
type sliceStream struct {
	fixes  []fix.Fix
	err    error
	i      int
	closed bool
}

func (s *sliceStream) Next() (fix.Fix, bool) {
	if s.i == len(s.fixes) {
		return fix.Fix{}, false
	}
	s.i++
	return s.fixes[s.i-1], true
}

func (s *sliceStream) Err() error {
	if s.i == len(s.fixes) {
		return s.err
	}
	return nil
}

func (s *sliceStream) Close() { s.closed = true }

// straightLine is n fixes at 1 Hz going north at 10 m/s.
func straightLine(n int) []fix.Fix {
	out := make([]fix.Fix, n)
	for i := range out {
		out[i] = fix.Fix{Device: "line", TS: t0.Add(time.Duration(i) * time.Second), Lat: 47 + float64(i)*10/111_195, Lon: 8}
	}
	return out
}

func get(query, token string) handler.Request {
	return ht.Request(http.MethodGet, query, token, nil, "")
}

// TestHandlePagination walks both pages in every format: a page with more
// to come carries X-Next-Cursor and a Link to the next page (the request's
// query with cursor set, encoded in key order); the last page carries
// neither. JSON also has the cursor in its body.
func TestHandlePagination(t *testing.T) {
	const geojsonPage1 = `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[-0.12,51.5],[-0.13,51.6]]},"properties":{"device":"d1","start":"2026-11-29T12:00:00.000Z","end":"2026-11-29T12:00:01.000Z","coordTimes":["2026-11-29T12:00:00.000Z","2026-11-29T12:00:01.000Z"]}}]}`
	cases := []ht.Case{
		ht.Row("json first page", get("device=d1&limit=2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"),
			ht.Header("X-Next-Cursor", "c2"), ht.Header("Link", `<?cursor=c2&device=d1&limit=2>; rel="next"`),
			ht.JSON("device", "d1"), ht.JSON("next", "c2"), ht.JSONLen("points", 2),
			ht.JSON("points.0.ts", "2026-11-29T12:00:00.000Z"), ht.JSON("points.0.speed", 2), ht.JSON("points.1.lat", 51.6)),
		ht.Row("json last page", get("device=d1&limit=2&cursor=c2", ht.ViewerToken), ht.Status(http.StatusOK), ht.NoHeader("X-Next-Cursor"), ht.NoHeader("Link"),
			ht.JSON("next", ""), ht.JSONLen("points", 1), ht.JSON("points.0.lat", 51.7)),
		ht.Row("json explicit format", get("device=d1&format=json", ht.AdminToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"), ht.Header("X-Next-Cursor", "c2"),
			ht.Header("Link", `<?cursor=c2&device=d1&format=json>; rel="next"`), ht.JSON("next", "c2")),
		ht.Row("geojson first page", get("device=d1&format=geojson&limit=2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/geo+json"),
			ht.Header("X-Next-Cursor", "c2"), ht.Header("Link", `<?cursor=c2&device=d1&format=geojson&limit=2>; rel="next"`),
			ht.Body(geojsonPage1+"\n")),
		ht.Row("geojson last page", get("device=d1&format=geojson&limit=2&cursor=c2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/geo+json"),
			ht.NoHeader("X-Next-Cursor"), ht.NoHeader("Link"),
			ht.JSON("type", "FeatureCollection"), ht.JSON("features.0.geometry.type", "Point"),
			ht.JSON("features.0.geometry.coordinates", []float64{-0.14, 51.7})),
		ht.Row("gpx first page", get("device=d1&format=gpx&limit=2&from=2026-11-29T00:00:00Z", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/gpx+xml"),
			ht.Header("Content-Disposition", `attachment; filename="d1.gpx"`),
			ht.Header("X-Next-Cursor", "c2"), ht.Header("Link", `<?cursor=c2&device=d1&format=gpx&from=2026-11-29T00%3A00%3A00Z&limit=2>; rel="next"`),
			ht.BodyContains(`<name>d1</name>`, `<trkpt lat="51.5" lon="-0.12">`, `<time>2026-11-29T12:00:01.000Z</time>`)),
		ht.Row("gpx last page", get("device=d1&format=gpx&limit=2&from=2026-11-29T00:00:00Z&cursor=c2", ht.ViewerToken), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/gpx+xml"),
			ht.Header("Content-Disposition", `attachment; filename="d1.gpx"`),
			ht.NoHeader("X-Next-Cursor"), ht.NoHeader("Link"),
			ht.BodyContains(`<trkpt lat="51.7" lon="-0.14">`)),
	}
	h := &fakeHistory{}
	ht.Run(t, track.New(h, ht.Verifier{}), cases)

	// Every request reached the store with the caller's tenant and the
	// parsed query: default limit when none was given, from as a time.
	from := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	want := []historyCall{
		{ht.Tenant, "d1", time.Time{}, time.Time{}, 2, ""},
		{ht.Tenant, "d1", time.Time{}, time.Time{}, 2, "c2"},
		{ht.Tenant, "d1", time.Time{}, time.Time{}, track.DefaultLimit, ""},
		{ht.Tenant, "d1", time.Time{}, time.Time{}, 2, ""},
		{ht.Tenant, "d1", time.Time{}, time.Time{}, 2, "c2"},
		{ht.Tenant, "d1", from, time.Time{}, 2, ""},
		{ht.Tenant, "d1", from, time.Time{}, 2, "c2"},
	}
	if len(h.calls) != len(want) {
		t.Fatalf("history read %d times, want %d: %+v", len(h.calls), len(want), h.calls)
	}
	for i, w := range want {
		if g := h.calls[i]; g.tenant != w.tenant || g.device != w.device || !g.from.Equal(w.from) || !g.to.Equal(w.to) || g.limit != w.limit || g.cursor != w.cursor {
			t.Errorf("call %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestHandleRefusals(t *testing.T) {
	cases := []ht.Case{
		ht.Row("unknown format", get("device=d1&format=kml", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("format", `"kml"`)),
		ht.Row("limit over the maximum", get("device=d1&limit=10001", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("limit not a number", get("device=d1&limit=many", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("limit")),
		ht.Row("from not a time", get("device=d1&from=yesterday", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("from")),
		ht.Row("to not a time", get("device=d1&to=later", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("to")),
		ht.Row("forged cursor", get("device=d1&cursor=forged", ht.ViewerToken), ht.Status(http.StatusBadRequest), ht.Error("cursor")),
		ht.Row("store down", get("device=broken", ht.ViewerToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
		ht.Row("device token may not read", get("device=d1", ht.DeviceToken), ht.Status(http.StatusForbidden), ht.Error("forbidden")),
		ht.Row("POST refused", ht.Request(http.MethodPost, "device=d1", ht.ViewerToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")),
	}
	cases = append(cases, ht.AuthCases(func(token string) handler.Request { return get("device=d1", token) })...)
	ht.Run(t, track.New(&fakeHistory{}, ht.Verifier{}), cases)
}
