package redisstore

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/geotrack/geotrack/internal/clip"
)

// Keys of the edge tier, in the edge's own Redis. The {edge} hash tag keeps
// them on one cluster slot; they hold every tenant of the edge node.
const (
	RawKey           = "gt:{edge}:raw"      // STREAM of raw fixes (RawLog)
	FilterStateKey   = "gt:{edge}:fstate"   // HASH tenant\x1fdevice → filter state JSON
	FilterPendingKey = "gt:{edge}:fpending" // ZSET tenant\x1fdevice → last push, devices with undecided fixes
)

// maxTenantLen bounds tenant ids, which end up in every key name.
const maxTenantLen = 256

// ValidTenant reports whether tenant can be used in key names: 1..256 bytes
// of UTF-8 without control characters and without '{' or '}', which would
// break the hash tag that keeps a tenant on one cluster slot.
func ValidTenant(tenant string) bool {
	if tenant == "" || len(tenant) > maxTenantLen || !utf8.ValidString(tenant) {
		return false
	}
	for _, r := range tenant {
		if r == '{' || r == '}' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// tenantKeys names the keys of one tenant.
type tenantKeys struct {
	base   string // "<prefix>:{<tenant>}:"
	tenant string
}

func (s *Store) keys(tenant string) (tenantKeys, error) {
	if !ValidTenant(tenant) {
		return tenantKeys{}, fmt.Errorf("%w: tenant %q: want 1-%d bytes without braces or control characters", ErrInvalidArgument, clip.String(tenant, 40), maxTenantLen)
	}
	return tenantKeys{base: s.opts.KeyPrefix + ":{" + tenant + "}:", tenant: tenant}, nil
}

func (k tenantKeys) geo() string                  { return k.base + "geo" }
func (k tenantKeys) last() string                 { return k.base + "last" }
func (k tenantKeys) lastTS() string               { return k.base + "lastts" }
func (k tenantKeys) devices() string              { return k.base + "devices" }
func (k tenantKeys) history(device string) string { return k.base + "h:" + device }

// bucket is one time bucket of device's history (see histcodec.go); the
// index history(device) lists the buckets.
func (k tenantKeys) bucket(device string, n int64) string {
	return k.base + "hb:" + strconv.FormatInt(n, 10) + ":" + device
}
func (k tenantKeys) events() string { return k.base + "events" } // == EventOutboxKey
