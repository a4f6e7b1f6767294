package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WORM is a write-once store (s3store.LockedBucket): an object, once put,
// cannot be deleted or overwritten before its retention ends.
type WORM interface {
	PutLocked(ctx context.Context, key string, data []byte) error
}

// ArchiveSource is the audit log as the archive reads it
// (redisstore.AuditLog): entries after a cursor, and the cursor of what
// was archived.
type ArchiveSource interface {
	ReadAudit(ctx context.Context, tenant string, from, to time.Time, cursor string, limit int) ([]Entry, string, error)
	ArchivedCursor(ctx context.Context, tenant string) (string, error)
	SetArchivedCursor(ctx context.Context, tenant, id string) error
}

// archivePage is how many entries one object holds at most.
const archivePage = 1000

// Archive copies each tenant's entries appended since the last run to
// WORM objects, <prefix>tenant=<t>/audit/<first id>_<last id>.jsonl (JSON
// lines, oldest first), and moves the tenant's cursor past them. An entry
// is archived at least once: a run killed between the put and the cursor
// writes the same object again under the same name (a new version; the
// first stays locked). It returns how many objects and entries it wrote.
func Archive(ctx context.Context, tenants []string, src ArchiveSource, dst WORM, prefix string, escape func(string) string) (objects, entries int, err error) {
	for _, t := range tenants {
		cursor, err := src.ArchivedCursor(ctx, t)
		if err != nil {
			return objects, entries, fmt.Errorf("audit archive %q: %w", t, err)
		}
		for {
			page, _, err := src.ReadAudit(ctx, t, time.Time{}, time.Time{}, cursor, archivePage)
			if err != nil {
				return objects, entries, fmt.Errorf("audit archive %q: %w", t, err)
			}
			if len(page) == 0 {
				break
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			for _, e := range page {
				if err := enc.Encode(e); err != nil {
					return objects, entries, fmt.Errorf("audit archive %q: %w", t, err)
				}
			}
			first, last := page[0].ID, page[len(page)-1].ID
			key := prefix + "tenant=" + escape(t) + "/audit/" + first + "_" + last + ".jsonl"
			if err := dst.PutLocked(ctx, key, buf.Bytes()); err != nil {
				return objects, entries, fmt.Errorf("audit archive %q: %w", t, err)
			}
			if err := src.SetArchivedCursor(ctx, t, last); err != nil {
				return objects, entries, fmt.Errorf("audit archive %q: %w", t, err)
			}
			objects++
			entries += len(page)
			cursor = last
			if len(page) < archivePage {
				break
			}
		}
	}
	return objects, entries, nil
}
