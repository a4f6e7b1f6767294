package s3store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/geotrack/geotrack/internal/localserver"
	"github.com/geotrack/geotrack/internal/s3store"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestBucketEncryptsEveryObject(t *testing.T) {
	// https, with the test CA given as S3_CA_FILE: SSE-C needs TLS.
	m := testenv.StartMinIOTLS(t)
	key32 := bytes.Repeat([]byte{7}, 32)
	cases := []struct {
		sse      string
		wantMode string
		stat     func(minio.ObjectInfo) bool
	}{
		{"", s3store.SSES3, func(i minio.ObjectInfo) bool { return i.Metadata.Get("X-Amz-Server-Side-Encryption") == "AES256" }},
		{s3store.SSEC, s3store.SSEC, func(i minio.ObjectInfo) bool {
			return i.Metadata.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") == "AES256"
		}},
	}
	for _, c := range cases {
		t.Run("sse="+c.sse, func(t *testing.T) {
			ctx := context.Background()
			b, err := s3store.New(s3store.Config{Endpoint: m.Endpoint, Bucket: "b-" + c.wantMode, AccessKey: m.AccessKey, SecretKey: m.SecretKey, CAFile: m.CAFile, SSE: c.sse, SSECKey: key32}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, found, err := b.Get(ctx, "missing"); err != nil || found {
				t.Fatalf("missing object: found %v err %v", found, err)
			}
			if err := b.Put(ctx, "a/b.parquet", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if b.Mode() != c.wantMode {
				t.Fatalf("mode %q, want %q", b.Mode(), c.wantMode)
			}
			data, found, err := b.Get(ctx, "a/b.parquet")
			if err != nil || !found || string(data) != "hello" {
				t.Fatalf("get: %q %v %v", data, found, err)
			}
			var opts minio.StatObjectOptions
			if c.wantMode == s3store.SSEC {
				opts.ServerSideEncryption, _ = encrypt.NewSSEC(key32)
			}
			info, err := b.Client().StatObject(ctx, b.Name(), "a/b.parquet", opts)
			if err != nil {
				t.Fatal(err)
			}
			if !c.stat(info) {
				t.Fatalf("object not encrypted as %s: %v", c.wantMode, info.Metadata)
			}
		})
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	cases := []s3store.Config{
		{Endpoint: "minio:9000", Bucket: "b"},
		{Endpoint: "ftp://minio:9000", Bucket: "b"},
		{Endpoint: "http://minio:9000"},
		{Endpoint: "http://minio:9000", Bucket: "b", SSE: "c", SSECKey: []byte("short")},
		{Endpoint: "http://minio:9000", Bucket: "b", SSE: "kms"},
		{Endpoint: "https://minio:9000", Bucket: "b", CAFile: "/does/not/exist"},
	}
	for _, c := range cases {
		if _, err := s3store.New(c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestSSEWithoutKMS: against a store without a KMS, auto writes plain
// objects (and says so in the log), an explicit s3 fails the write.
func TestSSEWithoutKMS(t *testing.T) {
	m, err := localserver.StartMinIO(context.Background(), localserver.MinIOConfig{Dir: t.TempDir(), NoKMS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	cases := []struct {
		sse      string
		wantErr  bool
		wantMode string
	}{
		{s3store.SSEAuto, false, s3store.SSENone},
		{s3store.SSES3, true, s3store.SSES3},
	}
	for _, c := range cases {
		t.Run(c.sse, func(t *testing.T) {
			b, err := s3store.New(s3store.Config{Endpoint: m.Endpoint, Bucket: "b-" + c.sse, AccessKey: m.AccessKey, SecretKey: m.SecretKey, SSE: c.sse}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Put(context.Background(), "k", []byte("v"))
			if (err != nil) != c.wantErr {
				t.Fatalf("put: %v, want error %v", err, c.wantErr)
			}
			if b.Mode() != c.wantMode {
				t.Fatalf("mode %q, want %q", b.Mode(), c.wantMode)
			}
		})
	}
}
