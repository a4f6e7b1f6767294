// Package audit is the tenant's append-only record of who did what to whose
// data: history reads of a device, fence, rule and preference changes,
// token revocations. Entries are made from the requests the runtime hands
// over once the handler succeeded (httpkit.Auditor), and appended in
// batches shared by concurrent requests; ingest is never audited.
package audit

import (
	"net/http"
	"time"

	"github.com/geotrack/geotrack/internal/httpkit"
)

// Entry is one audited action.
type Entry struct {
	ID       string            `json:"id,omitempty"` // the log's id, a cursor position
	At       time.Time         `json:"at"`
	Tenant   string            `json:"tenant"`
	Role     string            `json:"role"`
	Subject  string            `json:"subject,omitempty"` // the token's sub (OIDC user, ...)
	Device   string            `json:"device,omitempty"`  // the caller's device, for a device token
	TokenID  string            `json:"token_id,omitempty"`
	Action   string            `json:"action"`
	Function string            `json:"function"`
	Method   string            `json:"method"`
	Target   map[string]string `json:"target,omitempty"` // what was acted on: device, id, ...
	Remote   string            `json:"remote,omitempty"`
	Status   int               `json:"status"`
}

// Actions recorded.
const (
	ActionHistoryRead      = "history.read"
	ActionFenceChange      = "fence.change"
	ActionRuleChange       = "rule.change"
	ActionPreferenceChange = "preference.change"
	ActionTokenRevoke      = "token.revoke"
	ActionTokenNotBefore   = "token.not_before"
	ActionAuditRead        = "audit.read"
	// Issue 12 §1 (h20): the privacy function.
	ActionPrivacyExport  = "privacy.export"
	ActionPrivacyErase   = "privacy.erase"
	ActionPrivacyReceipt = "privacy.receipt"
)

// targetParams are the query parameters that name what an action touched.
var targetParams = []string{"device", "id", "revoke", "not_before", "from", "to", "receipt"}

// EntryOf decides whether an access is audited, and as what.
func EntryOf(a httpkit.Access) (Entry, bool) {
	write := a.Method != http.MethodGet && a.Method != http.MethodHead
	var action string
	switch a.Function {
	case "track", "trips":
		if !write && a.Query.Get("device") != "" {
			action = ActionHistoryRead
		}
	case "geofences":
		if write {
			action = ActionFenceChange
		}
	case "rules":
		if write {
			action = ActionRuleChange
		}
	case "preferences":
		if write {
			action = ActionPreferenceChange
		}
	case "tokens":
		switch {
		case write && a.Query.Has("revoke"):
			action = ActionTokenRevoke
		case write && a.Query.Has("not_before"):
			action = ActionTokenNotBefore
		}
	case "audit":
		if !write {
			action = ActionAuditRead
		}
	case "privacy":
		switch {
		case write && a.Query.Get("action") == "erase":
			action = ActionPrivacyErase
		case !write && a.Query.Get("receipt") != "":
			action = ActionPrivacyReceipt
		case !write && a.Query.Get("device") != "":
			action = ActionPrivacyExport
		}
	}
	if action == "" {
		return Entry{}, false
	}
	e := Entry{
		At: a.At.UTC(), Tenant: a.Principal.Tenant, Role: string(a.Principal.Role), Subject: a.Principal.Subject,
		Device: a.Principal.Device, TokenID: a.Principal.TokenID, Action: action, Function: a.Function,
		Method: a.Method, Remote: a.Remote, Status: a.Status,
	}
	for _, k := range targetParams {
		if v := a.Query.Get(k); v != "" {
			if e.Target == nil {
				e.Target = map[string]string{}
			}
			e.Target[k] = clip(v, 256)
		}
	}
	return e, true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
