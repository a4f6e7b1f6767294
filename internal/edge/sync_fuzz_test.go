package edge

import (
	"errors"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

const (
	fenceReplyOK = `{"tenant":"acme","version":4,"changes":[{"id":"yard","feature":{"type":"Feature","id":"yard","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"name":"Yard","radius_m":50}}},{"id":"old","feature":null},{"id":"gone"}]}`
	ruleReplyOK  = `{"tenant":"acme","rules":[{"id":"r1","name":"in","on":["io.geotrack.geofence.entered"],"webhook":{"url":"https://h.example.com/","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}]}`
)

// TestDecodeSyncReplies: the replies of the cloud's fence and rule syncs
// decode when well formed; anything else is a field error naming the
// reply's field, so the copy stays as it was.
func TestDecodeSyncReplies(t *testing.T) {
	cases := []struct {
		name, body, field string
		rules             bool
	}{
		{"fences ok", fenceReplyOK, "", false},
		{"fences not JSON", `{"tenant":`, "body", false},
		{"fences no tenant", `{"version":1,"changes":[]}`, "tenant", false},
		{"fences bad tenant", `{"tenant":"a{b}","version":1}`, "tenant", false},
		{"fences negative version", `{"tenant":"acme","version":-1}`, "version", false},
		{"fence without id", `{"tenant":"acme","version":1,"changes":[{"feature":{}}]}`, "changes[0].id", false},
		{"fence feature not an object", `{"tenant":"acme","version":1,"changes":[{"id":"a","feature":[1]}]}`, "changes[0].feature", false},
		{"rules ok", ruleReplyOK, "", true},
		{"rules not JSON", `[`, "body", true},
		{"rules no tenant", `{"rules":[]}`, "tenant", true},
		{"rule without secret", strings.Replace(ruleReplyOK, `,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`, "", 1), "rules[0].webhook.secret", true},
		{"rule with a bad secret", strings.Replace(ruleReplyOK, `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, "whsec_x", 1), "rules[0].webhook.secret", true},
		{"rule without id", strings.Replace(ruleReplyOK, `"id":"r1",`, "", 1), "rules[0].id", true},
		{"rule without event types", strings.Replace(ruleReplyOK, `"on":["io.geotrack.geofence.entered"],`, "", 1), "rules[0].on", true},
		{"rule twice", strings.Replace(ruleReplyOK, `]}`, `,`+ruleReplyOK[strings.Index(ruleReplyOK, `{"id"`):len(ruleReplyOK)-2]+`]}`, 1), "rules[1].id", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.rules {
				var out syncedRules
				out, err = decodeSyncedRules([]byte(c.body))
				if c.field == "" && (err != nil || out.Tenant != "acme" || len(out.Rules) != 1 || out.Rules[0].ID != "r1") {
					t.Fatalf("%+v %v", out, err)
				}
			} else {
				var out fenceChanges
				out, err = decodeFenceChanges([]byte(c.body))
				if c.field == "" && (err != nil || out.Tenant != "acme" || out.Version != 4 || len(out.Changes) != 3) {
					t.Fatalf("%+v %v", out, err)
				}
			}
			if c.field == "" {
				return
			}
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v, want a field error naming %s", err, c.field)
			}
		})
	}
}

// FuzzDecodeFenceChanges: the edge's decoder of GET geofences?since=
// replies never panics, fails only with a field error, and what it accepts
// names a tenant and ids.
func FuzzDecodeFenceChanges(f *testing.F) {
	for _, s := range []string{fenceReplyOK, `{"tenant":"acme","version":0,"changes":[]}`, `{"tenant":""}`, `{`, ``, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decodeFenceChanges(data)
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if out.Tenant == "" || out.Version < 0 {
			t.Fatalf("accepted %+v", out)
		}
		for _, c := range out.Changes {
			if c.ID == "" {
				t.Fatalf("accepted a change without id: %s", data)
			}
		}
	})
}

// FuzzDecodeSyncedRules: the edge's decoder of GET rules?all=true replies
// never panics, fails only with a field error, and every rule it accepts
// is valid with a usable secret.
func FuzzDecodeSyncedRules(f *testing.F) {
	for _, s := range []string{ruleReplyOK, `{"tenant":"acme","rules":[]}`, `{"tenant":"acme","rules":[{}]}`, `{`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decodeSyncedRules(data)
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if out.Tenant == "" {
			t.Fatalf("accepted a reply without tenant")
		}
		for _, r := range out.Rules {
			if err := r.ValidateSynced(); err != nil {
				t.Fatalf("accepted an invalid rule: %v", err)
			}
		}
	})
}
