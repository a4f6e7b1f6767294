package intake

import (
	"context"
	"fmt"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
)

// Service is the application service of every position-accepting function
// (ingest, edge-ingest, owntracks, osmand): it turns what the function
// decoded into validated groups, checks the caller may report them, and
// hands them to the pipeline, the cloud's or the edge's.
type Service struct {
	parser   Parser
	acceptor Acceptor
}

// NewService returns the intake that parses with parser and accepts into
// acceptor.
func NewService(parser Parser, acceptor Acceptor) *Service {
	return &Service{parser: parser, acceptor: acceptor}
}

// MayReport is the role check of every position-accepting function: any
// role but viewer may report (which devices is checked per fix).
func MayReport(p auth.Principal) error {
	if p.Role == auth.RoleViewer {
		return fmt.Errorf("%w: this token has role viewer, which may not report positions (a device, service or admin token is needed)", auth.ErrForbidden)
	}
	return nil
}

// Ingest accepts envelopes on behalf of p. device names the device of plain
// uploads that carry none (a GPX or GeoJSON file), as a CloudEvent subject
// would. Request-level problems are errors with their status (see
// httpkit.FromError); invalid fixes are rejections in the Summary.
func (s *Service) Ingest(ctx context.Context, p auth.Principal, envs []events.Envelope, device string) (Summary, error) {
	// The tenant comes only from the token; an event that names another
	// tenant (an edge forwarder with the wrong token) is refused, not stored
	// under the token's tenant.
	for _, env := range envs {
		if env.Tenant != "" && env.Tenant != p.Tenant {
			return Summary{}, fmt.Errorf("%w: event %q is for tenant %q but the token is for %q", auth.ErrForbidden, env.ID, env.Tenant, p.Tenant)
		}
	}
	if device != "" {
		for i := range envs {
			if envs[i].Mode == events.ModePlain && envs[i].Subject == "" {
				envs[i].Subject = device
			}
		}
	}
	groups, rejected, err := s.parser.Parse(envs)
	if err != nil {
		return Summary{}, err
	}
	for _, g := range groups {
		stripEdgeMarker(p, g.Fixes)
	}
	return s.acceptor.AcceptGroups(ctx, p, groups, rejected)
}

// AcceptFixes accepts fixes a protocol function decoded itself, as one
// group from source (deduplicated by device and timestamp, not by event).
func (s *Service) AcceptFixes(ctx context.Context, p auth.Principal, fixes []fix.Fix, source string) (Summary, error) {
	group, rejected := s.parser.Validate(fixes)
	group.Source = source
	stripEdgeMarker(p, group.Fixes)
	return s.acceptor.AcceptGroups(ctx, p, group.Groups(), rejected)
}

// stripEdgeMarker removes fix.AttrEdgeAlerts from fixes unless p is a
// service (an edge forwarder): a device must not be able to switch off its
// tenant's alerts in the cloud by claiming an edge fired them.
func stripEdgeMarker(p auth.Principal, fixes []fix.Fix) {
	if p.CanActAsEdgeNode("the edge_alerts marker") == nil {
		return
	}
	for i := range fixes {
		if _, ok := fixes[i].Attrs[fix.AttrEdgeAlerts]; ok {
			delete(fixes[i].Attrs, fix.AttrEdgeAlerts)
			if len(fixes[i].Attrs) == 0 {
				fixes[i].Attrs = nil
			}
		}
	}
}
