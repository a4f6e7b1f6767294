// Package rules is the admin function managing a tenant's alert rules:
// POST creates (the reply shows the webhook secret, once), GET lists or
// reads ?id=, PUT ?id= replaces, DELETE ?id= removes.
package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Function is the rules function.
type Function struct {
	store  alert.RuleStore
	auth   httpkit.Verifier
	policy alert.URLPolicy
}

// New builds rules from its dependencies.
func New(store alert.RuleStore, verifier httpkit.Verifier, policy alert.URLPolicy) *Function {
	return &Function{store: store, auth: verifier, policy: policy}
}

// Created is the reply to POST: the only time the secret is shown.
type Created struct {
	ID     string     `json:"id"`
	Secret string     `json:"secret"`
	Rule   alert.Rule `json:"rule"`
}

// List is the reply to GET without id.
type List struct {
	Rules []alert.Rule `json:"rules"`
}

// Handle implements the OpenFaaS go-http handler.
func (f *Function) Handle(req handler.Request) (handler.Response, error) {
	resp, err := f.handle(req)
	return httpkit.Respond(req.Context(), resp, err), nil
}

func (f *Function) handle(req handler.Request) (handler.Response, error) {
	ctx := req.Context()
	q, err := url.ParseQuery(req.QueryString)
	if err != nil {
		return handler.Response{}, &httpkit.Error{Status: http.StatusBadRequest, Field: "query", Err: err}
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return handler.Response{}, &httpkit.Error{Status: http.StatusMethodNotAllowed, Field: "method", Msg: "use GET, POST, PUT or DELETE"}
	}
	if all := q.Get("all"); all != "" {
		if all != "true" || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
			return handler.Response{}, httpkit.Invalid("all", "only GET ?all=true (an edge node's sync)")
		}
		return f.sync(req, q)
	}
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, auth.Principal.CanAdmin)
	if err != nil {
		return handler.Response{}, err
	}
	id := q.Get("id")
	if req.Method != http.MethodPost && req.Method != http.MethodGet && req.Method != http.MethodHead && id == "" {
		return handler.Response{}, httpkit.Invalid("id", "required with %s", req.Method)
	}
	switch req.Method {
	case http.MethodPost:
		if id != "" {
			return handler.Response{}, httpkit.Invalid("id", "POST creates a rule with a new id: use PUT ?id= to replace one")
		}
		r, err := alert.DecodeRule(req.Body, f.policy)
		if err != nil {
			return handler.Response{}, httpkit.BadInput(err)
		}
		if r.ID, err = alert.NewRuleID(); err != nil {
			return handler.Response{}, err
		}
		if r.Webhook.Secret == "" {
			if r.Webhook.Secret, err = alert.NewSecret(); err != nil {
				return handler.Response{}, err
			}
		}
		if err := f.store.PutRule(ctx, p.Tenant, r); err != nil {
			return handler.Response{}, notFound(err, r.ID)
		}
		resp := httpkit.JSON(http.StatusCreated, Created{ID: r.ID, Secret: r.Webhook.Secret, Rule: r.Redacted()})
		resp.Header.Set("Location", "?id="+url.QueryEscape(r.ID))
		return resp, nil
	case http.MethodPut:
		old, err := f.store.Rule(ctx, p.Tenant, id)
		if err != nil {
			return handler.Response{}, notFound(err, id)
		}
		r, err := alert.DecodeRule(req.Body, f.policy)
		if err != nil {
			return handler.Response{}, httpkit.BadInput(err)
		}
		r.ID = id
		if r.Webhook.Secret == "" {
			r.Webhook.Secret = old.Webhook.Secret // kept: it was shown once
		}
		if err := f.store.PutRule(ctx, p.Tenant, r); err != nil {
			return handler.Response{}, notFound(err, r.ID)
		}
		return httpkit.JSON(http.StatusOK, r.Redacted()), nil
	case http.MethodDelete:
		if err := f.store.DeleteRule(ctx, p.Tenant, id); err != nil {
			return handler.Response{}, notFound(err, id)
		}
		return handler.Response{StatusCode: http.StatusNoContent, Header: http.Header{}}, nil
	}
	if id != "" {
		r, err := f.store.Rule(ctx, p.Tenant, id)
		if err != nil {
			return handler.Response{}, notFound(err, id)
		}
		return httpkit.JSON(http.StatusOK, r.Redacted()), nil
	}
	all, err := f.store.ListRules(ctx, p.Tenant)
	if err != nil {
		return handler.Response{}, err
	}
	out := List{Rules: make([]alert.Rule, 0, len(all))}
	for _, r := range all {
		out.Rules = append(out.Rules, r.Redacted())
	}
	return httpkit.JSON(http.StatusOK, out), nil
}

// Synced is the reply to GET ?all=true: every rule of the tenant with its
// webhook secret, which an edge node needs to sign the deliveries it makes
// during a cloud outage. Only a service token (the edge's) reads it.
type Synced struct {
	Tenant string       `json:"tenant"`
	Rules  []alert.Rule `json:"rules"`
}

// maySync: only an edge node's service token; admins see secrets once, at
// creation, and viewers never.
func maySync(p auth.Principal) error {
	return p.CanActAsEdgeNode("GET ?all=true (rules with their secrets)")
}

// sync answers an edge node's sync, with an ETag over the whole set so an
// unchanged set costs a 304.
func (f *Function) sync(req handler.Request, q url.Values) (handler.Response, error) {
	ctx := req.Context()
	p, err := httpkit.Authenticate(ctx, f.auth, req, q, maySync)
	if err != nil {
		return handler.Response{}, err
	}
	list, err := f.store.ListRules(ctx, p.Tenant)
	if err != nil {
		return handler.Response{}, err
	}
	if list == nil {
		list = []alert.Rule{}
	}
	body, err := json.Marshal(Synced{Tenant: p.Tenant, Rules: list})
	if err != nil {
		return handler.Response{}, fmt.Errorf("encode rules: %w", err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	if req.Header.Get("If-None-Match") == etag {
		r := httpkit.Raw(http.StatusNotModified, "", nil)
		r.Header.Set("ETag", etag)
		return r, nil
	}
	r := httpkit.Raw(http.StatusOK, "application/json", body)
	r.Header.Set("ETag", etag)
	r.Header.Set("Cache-Control", "no-store")
	return r, nil
}

func notFound(err error, id string) error {
	if errors.Is(err, alert.ErrTooManyRules) {
		return &httpkit.Error{Status: http.StatusConflict, Field: "body", Err: err}
	}
	if errors.Is(err, alert.ErrNotFound) {
		return &httpkit.Error{Status: http.StatusNotFound, Field: "id", Msg: "no rule " + id}
	}
	return err
}
