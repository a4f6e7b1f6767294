package archive

import (
	"strings"
	"time"
)

// DateLayout is the date=YYYY-MM-DD partition (UTC days).
const DateLayout = "2006-01-02"

// PartName is the one object of a device's day. Each (device, ts) lives in
// at most one row of the archive: the archiver merges late points into this
// object rather than adding a second one (see Archiver).
const PartName = "part-0.parquet"

// ObjectKey is where a device's day sits:
// <prefix>tenant=<t>/device=<d>/date=YYYY-MM-DD/part-0.parquet, Hive
// partitions that DuckDB, Spark and pandas read as columns. Tenant and
// device go through EscapeSegment. prefix is used as given (end it with
// "/" for a folder).
func ObjectKey(prefix, tenant, device string, day time.Time) string {
	return DevicePrefix(prefix, tenant, device) + "date=" + day.UTC().Format(DateLayout) + "/" + PartName
}

// DevicePrefix is the folder of all of a device's days.
func DevicePrefix(prefix, tenant, device string) string {
	return prefix + "tenant=" + EscapeSegment(tenant) + "/device=" + EscapeSegment(device) + "/"
}

// EscapeSegment is the escaping rule of partition values: every byte
// other than A-Z a-z 0-9 '.' '_' '-' becomes %XX (uppercase hex, bytes of
// the UTF-8), as Hive escapes partition values, so '/', '=', ':', '%',
// spaces and non-ASCII never split or confuse a path. Device ids
// (^[A-Za-z0-9._:-]+$) only ever escape ':' (%3A).
func EscapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Day is the UTC day of a unix-ms timestamp, as a time at midnight.
func Day(tsMS int64) time.Time {
	t := time.UnixMilli(tsMS).UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
