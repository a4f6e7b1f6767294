package privacy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/privacy"
	"github.com/geotrack/geotrack/internal/dependency"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	privacysvc "github.com/geotrack/geotrack/internal/privacy"
)

// fakeService records what reached it; down makes every call fail.
type fakeService struct {
	exported, erased []string // tenant/device
	receipts         []string
	confirmed        []string
	down             bool
}

const knownReceipt = "0123456789abcdef0123456789abcdef"

func (f *fakeService) Export(_ context.Context, w io.Writer, tenant, device string) (privacysvc.Manifest, error) {
	if f.down {
		return privacysvc.Manifest{}, errors.New("history: redis: connection refused")
	}
	f.exported = append(f.exported, tenant+"/"+device)
	_, err := io.WriteString(w, "PK-zip-of-"+device)
	return privacysvc.Manifest{Tenant: tenant, Device: device}, err
}

func (f *fakeService) Erase(_ context.Context, tenant, device string) (privacysvc.Receipt, error) {
	if f.down {
		return privacysvc.Receipt{}, errors.New("erase: redis: connection refused")
	}
	f.erased = append(f.erased, tenant+"/"+device)
	return privacysvc.Receipt{ID: knownReceipt, Tenant: tenant, State: privacysvc.StateDone,
		Tiers: map[string]privacysvc.Tier{privacysvc.TierCloud: {State: privacysvc.StateDone, Removed: map[string]int{"h": 1}}}}, nil
}

func (f *fakeService) Receipt(_ context.Context, tenant, id string) (privacysvc.Receipt, bool, error) {
	if f.down {
		return privacysvc.Receipt{}, false, errors.New("read receipt: redis: connection refused")
	}
	f.receipts = append(f.receipts, tenant+"/"+id)
	if id != knownReceipt {
		return privacysvc.Receipt{}, false, nil
	}
	return privacysvc.Receipt{ID: id, Tenant: tenant, State: privacysvc.StateDone, ErasedBefore: time.Unix(1_800_000_000, 0).UTC()}, true, nil
}

func (f *fakeService) Erasures(_ context.Context, tenant string) ([]privacysvc.Erasure, error) {
	if f.down {
		return nil, errors.New("read tombstones: redis: connection refused")
	}
	return []privacysvc.Erasure{{DeviceSHA256: privacysvc.DeviceDigest(tenant, "d7"), Receipt: knownReceipt, ErasedBefore: time.Unix(1_800_000_000, 0).UTC()}}, nil
}

func (f *fakeService) ConfirmEdge(_ context.Context, tenant, receipt, node string, t privacysvc.Tier) (bool, error) {
	if f.down {
		return false, errors.New("confirm: redis: connection refused")
	}
	f.confirmed = append(f.confirmed, tenant+"/"+receipt+"/"+node+"/"+t.State)
	return receipt == knownReceipt, nil
}

// served adapts the http.Handler to the go-http signature ht.Run drives.
type served struct{ h http.Handler }

func (s served) Handle(req handler.Request) (handler.Response, error) {
	r := httptest.NewRequest(req.Method, "/?"+req.QueryString, bytes.NewReader(req.Body))
	for k, v := range req.Header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return handler.Response{StatusCode: w.Code, Header: w.Header(), Body: w.Body.Bytes()}, nil
}

func req(method, query, token string) handler.Request {
	return ht.Request(method, query, token, nil, "")
}

func TestPrivacy(t *testing.T) {
	svc := &fakeService{}
	fn := served{privacy.New(svc, ht.Verifier{})}
	cases := []ht.Case{
		ht.Row("admin exports a device", req(http.MethodGet, "device=d7&format=zip", ht.AdminToken),
			ht.Status(200), ht.Header("Content-Type", "application/zip"), ht.Header("Content-Disposition", `attachment; filename="d7.zip"`), ht.Body("PK-zip-of-d7")),
		ht.Row("format defaults to zip", req(http.MethodGet, "device=d7", ht.AdminToken), ht.Status(200), ht.Body("PK-zip-of-d7")),
		ht.Row("a device exports its own data", req(http.MethodGet, "device="+ht.Device, ht.DeviceToken), ht.Status(200), ht.Body("PK-zip-of-"+ht.Device)),
		ht.Row("a device may not export another", req(http.MethodGet, "device=d7", ht.DeviceToken), ht.Status(403)),
		ht.Row("a viewer may not export", req(http.MethodGet, "device=d7", ht.ViewerToken), ht.Status(403)),
		ht.Row("a service may not export", req(http.MethodGet, "device=d7", ht.ServiceToken), ht.Status(403)),
		ht.Row("bad device", req(http.MethodGet, "device=a%20b", ht.AdminToken), ht.Status(400), ht.Error("device")),
		ht.Row("bad format", req(http.MethodGet, "device=d7&format=tar", ht.AdminToken), ht.Status(400), ht.Error("format")),
		ht.Row("bad query", req(http.MethodGet, "device=%zz", ht.AdminToken), ht.Status(400), ht.Error("query")),
		ht.Row("admin erases", req(http.MethodPost, "device=d7&action=erase", ht.AdminToken),
			ht.Status(200), ht.JSON("id", knownReceipt), ht.JSON("state", "done"), ht.JSON("tiers.cloud.removed.h", 1.0)),
		ht.Row("a device may not erase itself", req(http.MethodPost, "device="+ht.Device+"&action=erase", ht.DeviceToken), ht.Status(403)),
		ht.Row("a viewer may not erase", req(http.MethodPost, "device=d7&action=erase", ht.ViewerToken), ht.Status(403)),
		ht.Row("erase needs the action", req(http.MethodPost, "device=d7", ht.AdminToken), ht.Status(400), ht.Error("action")),
		ht.Row("erase needs a device", req(http.MethodPost, "action=erase", ht.AdminToken), ht.Status(400), ht.Error("device")),
		ht.Row("erase of a bad device", req(http.MethodPost, "action=erase&device=x/y", ht.AdminToken), ht.Status(400), ht.Error("device")),
		ht.Row("receipt", req(http.MethodGet, "receipt="+knownReceipt, ht.AdminToken), ht.Status(200), ht.JSON("state", "done")),
		ht.Row("unknown receipt", req(http.MethodGet, "receipt=ffffffffffffffffffffffffffffffff", ht.AdminToken), ht.Status(404), ht.Error("receipt")),
		ht.Row("receipt not an id", req(http.MethodGet, "receipt=../x", ht.AdminToken), ht.Status(400), ht.Error("receipt")),
		ht.Row("a viewer may not read receipts", req(http.MethodGet, "receipt="+knownReceipt, ht.ViewerToken), ht.Status(403)),
		ht.Row("nothing asked", req(http.MethodGet, "", ht.AdminToken), ht.Status(400), ht.Error("device")),
		ht.Row("method", req(http.MethodDelete, "device=d7", ht.AdminToken), ht.Status(405), ht.Error("method")),
		// Edge nodes: the erasure list and confirmations, with a service token.
		ht.Row("edge pulls erasures", req(http.MethodGet, "erasures=true", ht.ServiceToken),
			ht.Status(200), ht.JSON("tenant", ht.Tenant), ht.JSONLen("erasures", 1), ht.JSON("erasures.0.receipt", knownReceipt)),
		ht.Row("a viewer may not pull erasures", req(http.MethodGet, "erasures=true", ht.ViewerToken), ht.Status(403)),
		ht.Row("a device may not pull erasures", req(http.MethodGet, "erasures=true", ht.DeviceToken), ht.Status(403)),
		ht.Row("erasures=false", req(http.MethodGet, "erasures=1", ht.ServiceToken), ht.Status(400), ht.Error("erasures")),
		ht.Row("edge confirms", ht.Request(http.MethodPost, "receipt="+knownReceipt+"&edge=site-1", ht.ServiceToken, nil, `{"state":"done","removed":{"h":2}}`),
			ht.Status(200), ht.JSON("edge", "site-1")),
		ht.Row("edge confirms an unknown receipt", req(http.MethodPost, "receipt=ffffffffffffffffffffffffffffffff&edge=site-1", ht.ServiceToken), ht.Status(404), ht.Error("receipt")),
		ht.Row("bad edge node", req(http.MethodPost, "receipt="+knownReceipt+"&edge=a/b", ht.ServiceToken), ht.Status(400), ht.Error("edge")),
		ht.Row("bad confirmation", ht.Request(http.MethodPost, "receipt="+knownReceipt+"&edge=site-1", ht.ServiceToken, nil, `{"removed":`), ht.Status(400), ht.Error("body")),
		ht.Row("a viewer may not confirm", req(http.MethodPost, "receipt="+knownReceipt+"&edge=site-1", ht.ViewerToken), ht.Status(403)),
	}
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return req(http.MethodGet, "device=d7", tok) })...)
	cases = append(cases, ht.AuthCases(func(tok string) handler.Request { return req(http.MethodPost, "device=d7&action=erase", tok) })...)
	ht.Run(t, fn, cases)

	// Only accepted requests reached the service, with the token's tenant.
	if got, want := svc.exported, []string{"acme/d7", "acme/d7", "acme/" + ht.Device}; !slices.Equal(got, want) {
		t.Errorf("exports %v, want %v", got, want)
	}
	if got, want := svc.erased, []string{"acme/d7"}; !slices.Equal(got, want) {
		t.Errorf("erasures %v, want %v", got, want)
	}
	if got, want := svc.confirmed, []string{"acme/" + knownReceipt + "/site-1/done", "acme/ffffffffffffffffffffffffffffffff/site-1/done"}; !slices.Equal(got, want) {
		t.Errorf("confirmations %v, want %v", got, want)
	}
	if got, want := svc.receipts, []string{"acme/" + knownReceipt, "acme/ffffffffffffffffffffffffffffffff"}; !slices.Equal(got, want) {
		t.Errorf("receipt reads %v, want %v", got, want)
	}
}

func TestPrivacyFailingService(t *testing.T) {
	fn := served{privacy.New(&fakeService{down: true}, ht.Verifier{})}
	ht.Run(t, fn, []ht.Case{
		ht.Row("erase fails", req(http.MethodPost, "device=d7&action=erase", ht.AdminToken), ht.Status(500)),
		ht.Row("receipt fails", req(http.MethodGet, "receipt="+knownReceipt, ht.AdminToken), ht.Status(500)),
		// The export's status is sent before the data: a failure cuts it short.
		ht.Row("export fails after the header", req(http.MethodGet, "device=d7", ht.AdminToken), ht.Status(200), ht.Body("")),
	})
}

// checkedService is a Service that checks its tiers before an export
// (privacysvc.Service.CheckExport); check is its verdict.
type checkedService struct {
	fakeService
	check error
}

func (c *checkedService) CheckExport(context.Context, string, string) error { return c.check }

// TestPrivacyExportWithTheArchiveDown: a tier that does not answer before
// the export starts is the status (503 with Retry-After, naming the
// archive), not a cut-off ZIP; nothing is exported.
func TestPrivacyExportWithTheArchiveDown(t *testing.T) {
	cases := []struct {
		name   string
		check  error
		status int
		want   string
	}{
		{"archive down", dependency.Unavailable("archive", errors.New("list s3://b/tenant=acme/device=d7/: connection refused")), 503, "archive unavailable"},
		{"archive answers", nil, 200, "PK-zip-of-d7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := &checkedService{check: c.check}
			fn := served{privacy.New(svc, ht.Verifier{})}
			resp, _ := fn.Handle(req(http.MethodGet, "device=d7&format=zip", ht.AdminToken))
			if resp.StatusCode != c.status || !bytes.Contains(resp.Body, []byte(c.want)) {
				t.Fatalf("export: %d %s, want %d with %q", resp.StatusCode, resp.Body, c.status, c.want)
			}
			if c.status == 503 && (resp.Header.Get("Retry-After") == "" || len(svc.exported) != 0) {
				t.Fatalf("503 without Retry-After (%q) or with an export %v", resp.Header.Get("Retry-After"), svc.exported)
			}
		})
	}
}
