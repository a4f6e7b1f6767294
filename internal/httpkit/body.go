package httpkit

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// readBody reads the whole request body, at most limit bytes. Larger bodies
// fail with *http.MaxBytesError, and never cost more than limit+1 bytes of
// buffer: a declared Content-Length is trusted only up to the limit, and an
// unknown length grows the buffer by doubling, capped at limit+1.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	// MaxBytesReader also tells the server to close the connection rather
	// than drain an oversized body.
	body := http.MaxBytesReader(w, r.Body, limit)
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // +1 so EOF is seen without growing
	}
	size = min(size, limit+1)
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(cap(buf)) >= limit+1 {
				return nil, &http.MaxBytesError{Limit: limit}
			}
			grown := make([]byte, len(buf), min(int64(2*cap(buf)), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// errEncoding is an unsupported Content-Encoding (415).
var errEncoding = errors.New("content-encoding: only gzip (or identity) is supported")

// decodeBody undoes a gzip Content-Encoding (edge forwarders compress their
// batches) and removes the header, so functions always see plain bytes. The
// body limit applies to the decompressed size too, which is what a function
// has to hold in memory: a small gzip bomb gets 413, not an OOM.
func decodeBody(header http.Header, body []byte, limit int64) (http.Header, []byte, error) {
	enc := strings.ToLower(strings.TrimSpace(header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return header, body, nil
	case "gzip", "x-gzip":
	default:
		return header, nil, errEncoding
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return header, nil, fmt.Errorf("gzip: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return header, nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(plain)) > limit {
		return header, nil, &http.MaxBytesError{Limit: limit}
	}
	h := header.Clone()
	h.Del("Content-Encoding")
	h.Del("Content-Length")
	return h, plain, nil
}
