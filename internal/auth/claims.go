// Package auth verifies bearer tokens and decides what a caller may do.
// Tenancy comes only from the token: a tenant never sees another's devices.
package auth

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Role is what a token holder may do.
type Role string

const (
	RoleDevice  Role = "device"  // ingest for its own device only
	RoleViewer  Role = "viewer"  // read functions in its tenant
	RoleAdmin   Role = "admin"   // everything in its tenant
	RoleService Role = "service" // ingest for any device of its tenant (edge forwarders)
)

// Roles lists every valid role.
var Roles = []Role{RoleDevice, RoleViewer, RoleAdmin, RoleService}

var (
	// ErrUnauthenticated maps to 401: no, invalid or expired credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden maps to 403: valid credentials, wrong role or device.
	ErrForbidden = errors.New("forbidden")
)

var tenantID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Principal is the verified caller.
type Principal struct {
	Tenant string
	Role   Role
	Device string // set for RoleDevice
	// TokenID (jti) and IssuedAt (iat) are what revocation checks; empty
	// when the token carries none.
	TokenID  string
	IssuedAt time.Time
	// Subject is the token's sub claim (an OIDC user), "" when absent.
	Subject string
}

// Valid checks the claims a token must carry.
func (p Principal) Valid() error {
	if !tenantID.MatchString(p.Tenant) {
		return fmt.Errorf("%w: claim tenant must match %s", ErrUnauthenticated, tenantID)
	}
	switch p.Role {
	case RoleViewer, RoleAdmin, RoleService:
	case RoleDevice:
		if p.Device == "" {
			return fmt.Errorf("%w: role device needs a device claim", ErrUnauthenticated)
		}
	default:
		return fmt.Errorf("%w: claim role %q is not one of device, viewer, admin, service", ErrUnauthenticated, p.Role)
	}
	return nil
}

// CanIngest reports whether p may report positions for device.
func (p Principal) CanIngest(device string) error {
	switch p.Role {
	case RoleAdmin, RoleService:
		return nil
	case RoleDevice:
		if device == p.Device {
			return nil
		}
		return fmt.Errorf("%w: a device token may only report for device %q, not %q", ErrForbidden, p.Device, device)
	}
	return fmt.Errorf("%w: this token has role %s, which may not ingest (a device, service or admin token is needed)", ErrForbidden, p.Role)
}

// CanRead reports whether p may use the read functions of its tenant.
func (p Principal) CanRead() error {
	if p.Role == RoleViewer || p.Role == RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s may not read positions (viewer or admin needed)", ErrForbidden, p.Role)
}

// CanAdmin reports whether p may use tenant administration functions.
func (p Principal) CanAdmin() error {
	if p.Role == RoleAdmin {
		return nil
	}
	return fmt.Errorf("%w: role %s is not admin", ErrForbidden, p.Role)
}

// CanActAsEdgeNode reports whether p may do what only an edge node does
// (pull the rules with their webhook secrets, report the alerts it fired):
// a service token, which an edge node's forwarder and edge-ingest carry.
// action names the request in the 403's text.
func (p Principal) CanActAsEdgeNode(action string) error {
	if p.Role == RoleService {
		return nil
	}
	return fmt.Errorf("%w: %s is for an edge node's service token, not role %s", ErrForbidden, action, p.Role)
}
