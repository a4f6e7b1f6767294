package config

// ArchiveTier says whether an archive tier (the archiver function and its
// S3 bucket) is deployed: then fixes older than the hot retention are kept
// in the hot store for the archiver to move (redisstore.Options.KeepOld)
// instead of being dropped on write, and history does not end at the hot
// retention.
type ArchiveTier struct {
	// S3Endpoint is the archive bucket's S3 API, http(s)://host:port.
	S3Endpoint string `envconfig:"S3_ENDPOINT"`
}

// Enabled reports whether an archive tier is configured.
func (a ArchiveTier) Enabled() bool { return a.S3Endpoint != "" }
