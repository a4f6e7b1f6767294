package redisstore

import "github.com/geotrack/geotrack/internal/locate"

// The history cursor is locate's (one format for the hot tier and the
// merged reader of both tiers).

func encodeCursor(tsMS int64) string { return locate.EncodeCursor(tsMS) }

func decodeCursor(cursor string) (int64, error) { return locate.DecodeCursor(cursor) }
