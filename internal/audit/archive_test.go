package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type memLog struct {
	entries map[string][]Entry
	cursor  map[string]string
}

func (m *memLog) ReadAudit(_ context.Context, tenant string, _, _ time.Time, cursor string, limit int) ([]Entry, string, error) {
	var out []Entry
	for _, e := range m.entries[tenant] {
		if cursor != "" && e.ID <= cursor {
			continue
		}
		out = append(out, e)
		if len(out) == limit {
			return out, e.ID, nil
		}
	}
	return out, "", nil
}
func (m *memLog) ArchivedCursor(_ context.Context, tenant string) (string, error) {
	return m.cursor[tenant], nil
}
func (m *memLog) SetArchivedCursor(_ context.Context, tenant, id string) error {
	m.cursor[tenant] = id
	return nil
}

type memWORM struct {
	objects map[string]string
	fail    bool
}

func (w *memWORM) PutLocked(_ context.Context, key string, data []byte) error {
	if w.fail {
		return errors.New("s3: connection refused")
	}
	if _, ok := w.objects[key]; ok {
		return fmt.Errorf("%s written twice", key)
	}
	w.objects[key] = string(data)
	return nil
}

func TestArchiveCopiesEachEntryOnce(t *testing.T) {
	log := &memLog{entries: map[string][]Entry{}, cursor: map[string]string{}}
	for i := range 2500 {
		log.entries["acme"] = append(log.entries["acme"], Entry{ID: fmt.Sprintf("%013d-0", i+1), Tenant: "acme", Action: ActionHistoryRead})
	}
	log.entries["globex"] = []Entry{{ID: "0000000000001-0", Tenant: "globex", Action: ActionPrivacyErase}}
	worm := &memWORM{objects: map[string]string{}, fail: true}
	if _, _, err := Archive(context.Background(), []string{"acme", "globex"}, log, worm, "p/", func(s string) string { return s }); err == nil || log.cursor["acme"] != "" {
		t.Fatalf("a failed put: err %v, cursor %q (must not move)", err, log.cursor["acme"])
	}
	worm.fail = false
	objects, entries, err := Archive(context.Background(), []string{"acme", "globex"}, log, worm, "p/", func(s string) string { return s })
	if err != nil || objects != 4 || entries != 2501 {
		t.Fatalf("first run: %d objects, %d entries, %v; want 4, 2501", objects, entries, err)
	}
	lines := 0
	for key, body := range worm.objects {
		if !strings.HasPrefix(key, "p/tenant=") || !strings.HasSuffix(key, ".jsonl") {
			t.Errorf("key %s", key)
		}
		lines += strings.Count(body, "\n")
	}
	if lines != 2501 {
		t.Errorf("%d lines archived, want 2501", lines)
	}
	log.entries["acme"] = append(log.entries["acme"], Entry{ID: fmt.Sprintf("%013d-0", 9999), Tenant: "acme", Action: ActionPrivacyExport})
	objects, entries, err = Archive(context.Background(), []string{"acme", "globex"}, log, worm, "p/", func(s string) string { return s })
	if err != nil || objects != 1 || entries != 1 {
		t.Fatalf("second run: %d objects, %d entries, %v; want only the new entry", objects, entries, err)
	}
}
