package archive_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/parquet-go/parquet-go"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestOpenColdStoreReadsSSECObjectsOverTLS: configured as track is
// (S3_CA_FILE for an https MinIO, ARCHIVE_SSE=c with the key of the secret
// archive-key, credentials from the env fallbacks), the reader reads
// objects written with SSE-C; without the key it fails rather than return
// nothing.
func TestOpenColdStoreReadsSSECObjectsOverTLS(t *testing.T) {
	m := testenv.StartMinIOTLS(t)
	key := bytes.Repeat([]byte{7}, 32)
	t.Setenv("SECRETS_DIR", t.TempDir()) // no secret files: the env fallbacks apply
	t.Setenv("S3_ACCESS_KEY", m.AccessKey)
	t.Setenv("S3_SECRET_KEY", m.SecretKey)
	t.Setenv("ARCHIVE_KEY", base64.StdEncoding.EncodeToString(key))

	pem, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	writer, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: true,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := writer.MakeBucket(ctx, coldBucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[archive.Row](&buf)
	if _, err := w.Write(rowsEvery("d1", day0, time.Second, 500)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sse, err := encrypt.NewSSEC(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.PutObject(ctx, coldBucket, key0("d1"), &buf, int64(buf.Len()), minio.PutObjectOptions{ServerSideEncryption: sse}); err != nil {
		t.Fatal(err)
	}

	cfg := archive.ColdConfig{S3Endpoint: m.Endpoint, S3Bucket: coldBucket, S3Region: "us-east-1", S3CAFile: m.CAFile, S3Prefix: "geo/", SSE: "c"}
	cs, err := archive.OpenColdStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanAll(t, cs, "d1", time.Time{}, time.Time{})
	if err != nil || len(got) != 500 {
		t.Fatalf("%d fixes, %v", len(got), err)
	}

	cfg.SSE = "auto"
	noKey, err := archive.OpenColdStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scanAll(t, noKey, "d1", time.Time{}, time.Time{}); err == nil {
		t.Fatal("an SSE-C object read without its key")
	}
}

func key0(device string) string { return key(device, day0, "part-0") }

func TestOpenColdStoreConfiguration(t *testing.T) {
	t.Setenv("SECRETS_DIR", t.TempDir())
	cases := []struct {
		name string
		cfg  archive.ColdConfig
		part string // "" : no error
		none bool   // no archive tier
	}{
		{name: "no endpoint: no archive tier", cfg: archive.ColdConfig{}, none: true},
		{name: "an endpoint", cfg: archive.ColdConfig{S3Endpoint: "http://127.0.0.1:9000", S3Bucket: "b"}},
		{name: "not a URL", cfg: archive.ColdConfig{S3Endpoint: "minio:9000"}, part: "S3_ENDPOINT"},
		{name: "a path", cfg: archive.ColdConfig{S3Endpoint: "http://minio:9000/bucket"}, part: "S3_ENDPOINT"},
		{name: "missing CA file", cfg: archive.ColdConfig{S3Endpoint: "https://minio:9000", S3CAFile: "/nonexistent/ca.pem"}, part: "S3_CA_FILE"},
		{name: "unknown SSE", cfg: archive.ColdConfig{S3Endpoint: "http://minio:9000", SSE: "kms"}, part: "ARCHIVE_SSE"},
		{name: "SSE-C without a key", cfg: archive.ColdConfig{S3Endpoint: "http://minio:9000", SSE: "c"}, part: "archive-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := archive.OpenColdStore(tc.cfg)
			if tc.part == "" && err != nil || tc.part != "" && (err == nil || !strings.Contains(err.Error(), tc.part)) {
				t.Fatalf("error %v, want %q", err, tc.part)
			}
			if err == nil && (cs == nil) != tc.none {
				t.Fatalf("store %v", cs)
			}
		})
	}
}
