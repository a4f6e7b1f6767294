package ingest

import (
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

// Config is ingest's environment (envconfig).
type Config struct {
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"168h"`
	DedupTTL         time.Duration `envconfig:"DEDUP_TTL" default:"24h"`
	// DeviceQuota caps the devices per tenant (0: none); a tenant's
	// override (geotrack limits --devices) wins.
	DeviceQuota int    `envconfig:"DEVICE_QUOTA" default:"0"`
	Source      string `envconfig:"EVENT_SOURCE" default:"urn:geotrack:ingest"`
	config.Redis
	auth.Config
	events.SinkConfig
	config.ArchiveTier // S3_ENDPOINT set: old fixes are kept for the archiver
}
