// Package track is the function returning a device's history between two
// times as JSON, GeoJSON or GPX, a page at a time.
package track

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geojson"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/locate"
)

// Page sizes (public contract: limit ≤ MaxLimit).
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// HistoryReader reads a device's history in time order, a page at a time
// (locate.Service).
type HistoryReader interface {
	History(ctx context.Context, tenant, device string, from, to time.Time, limit int, cursor string) (locate.Page, error)
}

// Function is the track function.
type Function struct {
	history HistoryReader
	auth    httpkit.Verifier
}

// New builds track from its dependencies.
func New(history HistoryReader, verifier httpkit.Verifier) *Function {
	return &Function{history: history, auth: verifier}
}

// Result is the JSON format's body.
type Result struct {
	Device string    `json:"device"`
	Points []fix.Fix `json:"points"`
	Next   string    `json:"next"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	p, q, err := httpkit.AuthorizeRead(f.auth, req)
	if err != nil {
		return handler.Response{}, err
	}
	device := q.Get("device")
	from, err := httpkit.QueryTime(q, "from")
	if err != nil {
		return handler.Response{}, err
	}
	to, err := httpkit.QueryTime(q, "to")
	if err != nil {
		return handler.Response{}, err
	}
	limit, err := httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return handler.Response{}, err
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "geojson" && format != "gpx" {
		return handler.Response{}, httpkit.Invalid("format", "%q is not one of json, geojson, gpx", format)
	}
	page, err := f.history.History(ctx, p.Tenant, device, from, to, limit, q.Get("cursor"))
	if err != nil {
		return handler.Response{}, err
	}
	resp, err := encode(format, device, page)
	if err != nil {
		return handler.Response{}, fmt.Errorf("encode %s: %w", format, err)
	}
	if page.Next != "" {
		// Non-JSON formats have no place for the cursor in the document.
		resp.Header.Set("X-Next-Cursor", page.Next)
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", page.Next)
		resp.Header.Set("Link", fmt.Sprintf(`<?%s>; rel="next"`, next.Encode()))
	}
	return resp, nil
}

func encode(format, device string, page locate.Page) (handler.Response, error) {
	var buf bytes.Buffer
	switch format {
	case "geojson":
		if err := geojson.EncodeTrack(&buf, device, page.Fixes); err != nil {
			return handler.Response{}, err
		}
		return httpkit.Raw(http.StatusOK, "application/geo+json", buf.Bytes()), nil
	case "gpx":
		if err := gpx.Encode(&buf, device, page.Fixes); err != nil {
			return handler.Response{}, err
		}
		r := httpkit.Raw(http.StatusOK, "application/gpx+xml", buf.Bytes())
		r.Header.Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, device+".gpx"))
		return r, nil
	}
	return httpkit.JSON(http.StatusOK, Result{Device: device, Points: page.Fixes, Next: page.Next}), nil
}
