package geofences

import (
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/config"
)

// Config is geofences' environment (envconfig).
type Config struct {
	// Quota is the most fences one tenant may hold.
	Quota int `envconfig:"GEOFENCE_QUOTA" default:"50000"`
	config.Redis
	auth.Config
}
