// Package alert is the pure domain of alert rules: the rule model and its
// decoder, which events a rule matches, the threshold and silence conditions
// and the state they keep per rule and device. No HTTP, Redis or clock:
// callers pass time in, and storage sits behind the interfaces of service.go.
package alert

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// Event types a rule can be on besides io.geotrack.location.updated: the
// geofence events of geofence-detect and the trip/stop events of movement.
const (
	TypeGeofenceEntered = eventtype.GeofenceEntered
	TypeGeofenceExited  = eventtype.GeofenceExited
	TypeGeofenceDwelled = eventtype.GeofenceDwelled
)

// geofenceTypes are the types whose rules may select fences.
var geofenceTypes = []string{TypeGeofenceDwelled, TypeGeofenceEntered, TypeGeofenceExited}

// Limits of a rule (public contract: bad values are a 400 naming the field).
const (
	MaxNameLen     = 200
	MaxDevices     = 1000
	MaxFences      = 1000
	MaxIDLen       = 256
	MaxCooldownS   = 30 * 24 * 3600
	MaxDurationS   = 30 * 24 * 3600
	MaxSpeedMPS    = 1000
	MaxRuleBytes   = 64 << 10
	MaxURLLen      = 2048
	secretPrefix   = "whsec_"
	minSecretBytes = 24
	maxSecretBytes = 64
)

// Rule is one alert rule of a tenant.
type Rule struct {
	ID        string   `json:"id,omitempty"`
	Name      string   `json:"name"`
	On        []string `json:"on"`
	Devices   []string `json:"devices,omitempty"`
	Fences    []string `json:"fences,omitempty"`
	When      When     `json:"when"`
	Webhook   Webhook  `json:"webhook"`
	CooldownS int      `json:"cooldown_s,omitempty"`
}

// When holds the condition of a rule on io.geotrack.location.updated:
// exactly one of speed_above (optionally for_s), battery_below, flag or
// silent_s. Rules on other events leave it empty.
type When struct {
	SpeedAbove   *float64 `json:"speed_above,omitempty"`   // m/s
	ForS         int      `json:"for_s,omitempty"`         // speed above for at least this long
	BatteryBelow *float64 `json:"battery_below,omitempty"` // 0..1, as fixes carry it
	Flag         string   `json:"flag,omitempty"`          // attribute that is set, e.g. alarm
	SilentS      int      `json:"silent_s,omitempty"`      // no fix for this long
}

// Webhook is where a rule's alerts are delivered.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// Kind is what makes a rule fire.
type Kind string

const (
	KindEvent   Kind = "event"   // an emitted event (geofence, later trip/stop)
	KindSpeed   Kind = "speed"   // speed above N m/s for at least N s
	KindBattery Kind = "battery" // battery below N
	KindFlag    Kind = "flag"    // an attribute flag is set
	KindSilence Kind = "silence" // no fix for N s (a scheduled sweep)
)

// Kind tells what makes r fire; r must be valid.
func (r Rule) Kind() Kind {
	switch {
	case r.When.SpeedAbove != nil:
		return KindSpeed
	case r.When.BatteryBelow != nil:
		return KindBattery
	case r.When.Flag != "":
		return KindFlag
	case r.When.SilentS > 0:
		return KindSilence
	}
	return KindEvent
}

// Redacted is r without its webhook secret, as listings show it: the
// secret is shown once, in the reply that created it.
func (r Rule) Redacted() Rule {
	r.Webhook.Secret = ""
	return r
}

// EventTypes are the types a rule may be on.
var EventTypes = []string{TypeGeofenceDwelled, TypeGeofenceEntered, TypeGeofenceExited, eventtype.LocationUpdated,
	eventtype.StopEnded, eventtype.StopStarted, eventtype.TripEnded, eventtype.TripStarted}

// URLPolicy is what a webhook URL must satisfy at creation. Delivery checks
// the dialled address again (see internal/webhook), so a name that later
// resolves to a private address is refused then.
type URLPolicy struct {
	AllowPrivate bool // WEBHOOK_ALLOW_PRIVATE: http and private addresses allowed (dev, tests)
}

// DecodeRule decodes and validates a rule document. Errors are
// *fix.FieldError naming the field (HTTP 400). The webhook secret may be
// empty: the caller generates one (NewSecret) or keeps the stored one.
func DecodeRule(data []byte, policy URLPolicy) (Rule, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Rule{}, fieldErr("body", "empty: expected a rule object")
	}
	if len(data) > MaxRuleBytes {
		return Rule{}, fieldErr("body", "%d bytes; a rule is at most %d", len(data), MaxRuleBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return Rule{}, jsonFieldError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Rule{}, fieldErr("body", "trailing data after the rule object")
	}
	if r.ID != "" {
		return Rule{}, fieldErr("id", "assigned by the server: use PUT ?id= to replace a rule")
	}
	if err := r.validate(policy); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func (r Rule) validate(policy URLPolicy) error {
	if strings.TrimSpace(r.Name) == "" {
		return fieldErr("name", "required")
	}
	if len(r.Name) > MaxNameLen || !utf8.ValidString(r.Name) {
		return fieldErr("name", "at most %d bytes of UTF-8", MaxNameLen)
	}
	if len(r.On) == 0 {
		return fieldErr("on", "required: one or more of %s", strings.Join(EventTypes, ", "))
	}
	for i, t := range r.On {
		if !slices.Contains(EventTypes, t) {
			return fieldErr(fmt.Sprintf("on[%d]", i), "%q is not one of %s", clipped(t), strings.Join(EventTypes, ", "))
		}
		if slices.Contains(r.On[:i], t) {
			return fieldErr(fmt.Sprintf("on[%d]", i), "%q is listed twice", t)
		}
	}
	if err := ids("devices", r.Devices, MaxDevices); err != nil {
		return err
	}
	if err := ids("fences", r.Fences, MaxFences); err != nil {
		return err
	}
	if err := r.validateWhen(); err != nil {
		return err
	}
	if r.CooldownS < 0 || r.CooldownS > MaxCooldownS {
		return fieldErr("cooldown_s", "%d is outside 0..%d", r.CooldownS, MaxCooldownS)
	}
	if err := CheckURL(r.Webhook.URL, policy); err != nil {
		return err
	}
	if r.Webhook.Secret != "" {
		if _, err := SecretKey(r.Webhook.Secret); err != nil {
			return fieldErr("webhook.secret", "%v", err)
		}
	}
	return nil
}

func (r Rule) validateWhen() error {
	w := r.When
	set := 0
	for _, on := range []bool{w.SpeedAbove != nil, w.BatteryBelow != nil, w.Flag != "", w.SilentS != 0} {
		if on {
			set++
		}
	}
	onLocation := slices.Contains(r.On, eventtype.LocationUpdated)
	switch {
	case set == 0 && onLocation:
		return fieldErr("when", "a rule on %s needs one of speed_above, battery_below, flag, silent_s", eventtype.LocationUpdated)
	case set > 1:
		return fieldErr("when", "one condition per rule: speed_above, battery_below, flag or silent_s")
	case set == 1 && (!onLocation || len(r.On) > 1):
		return fieldErr("on", "a rule with a condition in when is on %s alone", eventtype.LocationUpdated)
	}
	if len(r.Fences) > 0 {
		for i, t := range r.On {
			if !slices.Contains(geofenceTypes, t) {
				return fieldErr("fences", "only rules on geofence events select fences; on[%d] is %s", i, t)
			}
		}
	}
	if w.ForS != 0 && w.SpeedAbove == nil {
		return fieldErr("when.for_s", "only with speed_above")
	}
	if w.ForS < 0 || w.ForS > MaxDurationS {
		return fieldErr("when.for_s", "%d is outside 0..%d", w.ForS, MaxDurationS)
	}
	if v := w.SpeedAbove; v != nil && (math.IsNaN(*v) || *v <= 0 || *v > MaxSpeedMPS) {
		return fieldErr("when.speed_above", "%v m/s is outside (0, %d]", *v, MaxSpeedMPS)
	}
	if v := w.BatteryBelow; v != nil && (math.IsNaN(*v) || *v <= 0 || *v > 1) {
		return fieldErr("when.battery_below", "%v is outside (0, 1]: battery is a fraction, as fixes carry it", *v)
	}
	if w.Flag != "" && (len(w.Flag) > 64 || strings.ContainsAny(w.Flag, " \t\r\n")) {
		return fieldErr("when.flag", "an attribute name of at most 64 bytes without spaces")
	}
	if w.SilentS < 0 || w.SilentS > MaxDurationS || (w.SilentS > 0 && w.SilentS < 10) {
		return fieldErr("when.silent_s", "%d is outside 10..%d", w.SilentS, MaxDurationS)
	}
	return nil
}

func ids(field string, list []string, limit int) error {
	if len(list) > limit {
		return fieldErr(field, "%d entries; at most %d", len(list), limit)
	}
	for i, id := range list {
		if id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "an id of 1..%d bytes of UTF-8", MaxIDLen)
		}
	}
	return nil
}

// CheckURL checks a webhook URL at rule creation: absolute https (http too
// with AllowPrivate), a host, no credentials, and no literal loopback,
// private, link-local or metadata address.
func CheckURL(raw string, policy URLPolicy) error {
	if raw == "" {
		return fieldErr("webhook.url", "required")
	}
	if len(raw) > MaxURLLen {
		return fieldErr("webhook.url", "longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr("webhook.url", "not a URL: %v", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && policy.AllowPrivate:
	default:
		return fieldErr("webhook.url", "scheme %q: webhooks must use https", clipped(u.Scheme))
	}
	if u.Hostname() == "" {
		return fieldErr("webhook.url", "no host")
	}
	if u.User != nil {
		return fieldErr("webhook.url", "credentials in the URL are not allowed: use the signature to authenticate")
	}
	if policy.AllowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "metadata.google.internal" {
		return fieldErr("webhook.url", "host %q is a local or metadata address", host)
	}
	if ip := net.ParseIP(host); ip != nil && Forbidden(ip) {
		return fieldErr("webhook.url", "address %s is loopback, private, link-local or metadata", ip)
	}
	return nil
}

// Forbidden reports whether a webhook may not reach ip: loopback, private,
// link-local (cloud metadata at 169.254.169.254 is one), shared (CGNAT,
// where some clouds put metadata), unspecified or multicast.
func Forbidden(ip net.IP) bool {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedNet.Contains(ip) ||
		ip.Equal(net.IPv4bcast)
}

var sharedNet = &net.IPNet{IP: net.IPv4(100, 64, 0, 0).To4(), Mask: net.CIDRMask(10, 32)}

// NewSecret generates a webhook signing secret: "whsec_" and the base64 of
// 32 random bytes, as Standard Webhooks serialises secrets.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// NewRuleID is a fresh rule id.
func NewRuleID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate rule id: %w", err)
	}
	return "r_" + hex.EncodeToString(b), nil
}

// SecretKey is the HMAC key of a "whsec_" secret: the base64-decoded part
// after the prefix, 24 to 64 bytes.
func SecretKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q", secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("the part after %q is not standard base64", secretPrefix)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("decodes to %d bytes; want %d to %d", len(key), minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// jsonFieldError names the field of a JSON decoding error.
func jsonFieldError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return fieldErr(field, "expected %s, got a JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fieldErr("body", "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("body", "malformed JSON: unexpected end")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if field := strings.Trim(name, `"`); field != "" {
			return fieldErr(clipped(field), "unknown field")
		}
		return fieldErr("body", "unknown field %s", name)
	}
	return fieldErr("body", "%v", err)
}

func fieldErr(field, format string, args ...any) *fix.FieldError {
	return &fix.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func clipped(s string) string { return clip.String(s, 60) }
