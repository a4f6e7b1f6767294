// Package nearby is the function answering GET ?lat=&lon=&radius=&limit=
// with the devices whose latest position is within radius, nearest first.
package nearby

import (
	"context"
	"fmt"
	"math"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gate"
	"github.com/geotrack/geotrack/internal/query"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/respond"
)

// Limits of one search (public contract).
const (
	MaxRadiusM   = 100_000
	MaxLimit     = 1000
	DefaultLimit = 100
)

// Store searches latest positions.
type Store interface {
	Nearby(ctx context.Context, tenant string, lat, lon, radiusM float64, limit int) ([]redisstore.Nearby, error)
}

// Function is the nearby function.
type Function struct {
	store Store
	auth  gate.Verifier
}

// New builds nearby from its dependencies.
func New(store Store, verifier gate.Verifier) *Function {
	return &Function{store: store, auth: verifier}
}

// Device is one result row.
type Device struct {
	fix.Fix
	DistanceM float64 `json:"distance_m"`
}

// MarshalJSON keeps the fix's own encoding and adds distance_m.
func (d Device) MarshalJSON() ([]byte, error) {
	body, err := d.Fix.MarshalJSON()
	if err != nil {
		return nil, err
	}
	dist := fmt.Sprintf(`,"distance_m":%s}`, formatMetres(d.DistanceM))
	return append(body[:len(body)-1], dist...), nil
}

func formatMetres(v float64) string {
	return fmt.Sprintf("%.2f", math.Round(v*100)/100)
}

// Result is the response body.
type Result struct {
	Devices []Device `json:"devices"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	p, q, deny := gate.Read(f.auth, req)
	if deny != nil {
		return *deny, nil
	}
	lat, err := query.Float(q, "lat", -fix.MaxLat, fix.MaxLat)
	if err != nil {
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	lon, err := query.Float(q, "lon", -180, 180)
	if err != nil {
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	radius, err := query.Float(q, "radius", 0, MaxRadiusM)
	if err != nil {
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	limit, err := query.Int(q, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return respond.Error(http.StatusBadRequest, err.Error()), nil
	}
	found, err := f.store.Nearby(ctx, p.Tenant, lat, lon, radius, limit)
	if err != nil {
		return respond.FromError(fmt.Errorf("nearby search: %w", err)), nil
	}
	res := Result{Devices: make([]Device, len(found))}
	for i, n := range found {
		res.Devices[i] = Device{Fix: n.Fix, DistanceM: n.DistanceM}
	}
	return respond.JSON(http.StatusOK, res), nil
}
