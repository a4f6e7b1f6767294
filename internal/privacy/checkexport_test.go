package privacy

import (
	"context"
	"errors"
	"testing"

	"github.com/geotrack/geotrack/internal/dependency"
)

// downObjects is an object store that does not answer.
type downObjects struct{ memObjects }

func (downObjects) List(context.Context, string) ([]string, error) {
	return nil, dependency.Unavailable("archive", errors.New("connection refused"))
}

// TestCheckExport: an export checks the archive's listing before it
// starts; without an archive, or with one it cannot check, nothing to do.
func TestCheckExport(t *testing.T) {
	cases := []struct {
		name    string
		archive Archive
		outage  bool
	}{
		{"no archive", nil, false},
		{"archive answers", ObjectArchive{Objects: memObjects{}}, false},
		{"archive down", ObjectArchive{Objects: downObjects{}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Service{Archive: c.archive}
			err := s.CheckExport(context.Background(), "acme", "d1")
			if _, outage := dependency.As(err); outage != c.outage || (err != nil) != c.outage {
				t.Fatalf("CheckExport: %v, want an outage %v", err, c.outage)
			}
		})
	}
}
