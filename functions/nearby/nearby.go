// Package nearby is the function answering GET ?lat=&lon=&radius=&limit=
// with the devices whose latest position is within radius, nearest first.
package nearby

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strconv"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/locate"
)

// Limits of one search (public contract).
const (
	MaxRadiusM   = 100_000
	MaxLimit     = 1000
	DefaultLimit = 100
)

// Searcher finds the devices near a point, each with its stored fix JSON
// (locate.Service).
type Searcher interface {
	Nearby(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]locate.Hit, error)
}

// Function is the nearby function.
type Function struct {
	searcher Searcher
	auth     httpkit.Verifier
}

// New builds nearby from its dependencies.
func New(searcher Searcher, verifier httpkit.Verifier) *Function {
	return &Function{searcher: searcher, auth: verifier}
}

// encodeResult writes {"devices":[...]} from the stored fix JSON, adding
// distance_m to each object: no decode and re-encode of every fix.
func encodeResult(hits []locate.Hit) []byte {
	size := 16
	for _, h := range hits {
		size += len(h.JSON) + 24
	}
	b := make([]byte, 0, size)
	b = append(b, `{"devices":[`...)
	for i, h := range hits {
		if i > 0 {
			b = append(b, ',')
		}
		js := bytes.TrimSpace(h.JSON)
		if len(js) < 2 || js[len(js)-1] != '}' {
			continue
		}
		b = append(b, js[:len(js)-1]...)
		b = append(b, `,"distance_m":`...)
		b = strconv.AppendFloat(b, math.Round(h.DistanceM*100)/100, 'f', -1, 64)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
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
	lat, err := httpkit.QueryFloat(q, "lat", -fix.MaxLat, fix.MaxLat)
	if err != nil {
		return handler.Response{}, err
	}
	lon, err := httpkit.QueryFloat(q, "lon", -180, 180)
	if err != nil {
		return handler.Response{}, err
	}
	radius, err := httpkit.QueryFloat(q, "radius", 0, MaxRadiusM)
	if err != nil {
		return handler.Response{}, err
	}
	limit, err := httpkit.QueryInt(q, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return handler.Response{}, err
	}
	found, err := f.searcher.Nearby(ctx, p.Tenant, lat, lon, radius, limit)
	if err != nil {
		return handler.Response{}, err
	}
	return httpkit.Raw(http.StatusOK, "application/json", encodeResult(found)), nil
}
