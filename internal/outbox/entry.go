package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Stream entry field names.
const (
	fieldFix    = "fix"
	fieldTenant = "tenant"
)

// Entry is one queued fix.
type Entry struct {
	ID     string // Redis stream id, the handle for Ack and DeadLetter
	Tenant string
	Fix    fix.Fix
}

// encodeFix is the stored form of f.
func encodeFix(f fix.Fix) (string, error) {
	data, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode fix: %w", err)
	}
	return string(data), nil
}

// decodeEntry turns stream fields back into an Entry. Anything that would not
// pass fix.Validate is an error, so a corrupt or hand-written entry is
// dead-lettered here instead of poisoning a whole batch at the cloud.
func decodeEntry(id string, values map[string]any, now time.Time) (Entry, error) {
	raw, ok := values[fieldFix].(string)
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: missing %q field", id, fieldFix)
	}
	tenant, _ := values[fieldTenant].(string)
	f, err := fix.Decode([]byte(raw), "")
	if err != nil {
		return Entry{}, fmt.Errorf("entry %s: decode fix: %w", id, err)
	}
	if err := fix.Validate(&f, now); err != nil {
		return Entry{}, fmt.Errorf("entry %s: invalid fix: %w", id, err)
	}
	return Entry{ID: id, Tenant: tenant, Fix: f}, nil
}
