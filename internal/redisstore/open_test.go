package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/testenv"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want target
	}{
		{"redis://127.0.0.1:6380/0", target{addrs: []string{"127.0.0.1:6380"}}},
		{"redis://localhost", target{addrs: []string{"localhost:6379"}}},
		{"redis://localhost/", target{addrs: []string{"localhost:6379"}}},
		{"redis://h:1/3", target{addrs: []string{"h:1"}, db: 3}},
		{"redis://user:p%40ss@h:1/2", target{addrs: []string{"h:1"}, username: "user", password: "p@ss", db: 2}},
		{"redis://:pw@h:1", target{addrs: []string{"h:1"}, password: "pw"}},
		{"redis://:p/w?x@h:1/1", target{addrs: []string{"h:1"}, password: "p/w?x", db: 1}},
		{"redis://[::1]:7000", target{addrs: []string{"[::1]:7000"}}},
		{"redis://[::1]", target{addrs: []string{"[::1]:6379"}}},
		{"rediss://h:1?insecure_skip_verify=true", target{tls: true, insecure: true, addrs: []string{"h:1"}}},
		{"redis+cluster://a:1,b:2,c:3", target{cluster: true, addrs: []string{"a:1", "b:2", "c:3"}}},
		{"rediss+cluster://a:1,b:2", target{cluster: true, tls: true, addrs: []string{"a:1", "b:2"}}},
		{"redis://a:1,b:2?cluster=true", target{cluster: true, addrs: []string{"a:1", "b:2"}}},
		{"redis://a:1?cluster=true", target{cluster: true, addrs: []string{"a:1"}}},
		{"REDIS://h:1?dial_timeout=2s&read_timeout=1s&write_timeout=3s&pool_size=7",
			target{addrs: []string{"h:1"}, dialTimeout: 2 * time.Second, readTimeout: time.Second, writeTimeout: 3 * time.Second, poolSize: 7}},
	}
	for _, tt := range tests {
		got, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"localhost:6379", "missing scheme"},
		{"http://h:1", "unsupported scheme"},
		{"redis://", "empty host"},
		{"redis://a:1,b:2", "several hosts"},
		{"redis://a:1,,b:2?cluster=true", "empty host"},
		{"redis://h:0", "invalid port"},
		{"redis://h:99999", "invalid port"},
		{"redis://h:x", "invalid port"},
		{"redis://h:1/x", "database"},
		{"redis://h:1/-1", "database"},
		{"redis+cluster://a:1,b:2/1", "only has database 0"},
		{"redis://h:1?cluster=maybe", "not a boolean"},
		{"redis://h:1?insecure_skip_verify=true", "needs a rediss"},
		{"redis://h:1?dial_timeout=5", "not a duration"},
		{"redis://h:1?pool_size=-1", "pool_size"},
		{"redis://h:1?db=2", "unknown query parameter"},
		{"redis://:%zz@h:1", "password"},
	}
	for _, tt := range tests {
		_, err := parseURL(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseURL(%q) error = %v, want %q", tt.url, err, tt.want)
		}
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	for _, u := range []string{"redis://:hunter2@h:1/x", "redis://u:hunter2@h:1?bogus=1", "redis://:hun/ter2@h:99999"} {
		_, err := Open(u)
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("Open(%q) error = %v; want an error without the password", u, err)
		}
	}
}

// FuzzParseURL: parseURL never panics, and whatever it accepts is usable:
// at least one valid host:port, one host unless cluster, db 0 for clusters.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"redis://127.0.0.1:6379/0", "rediss://u:p@h:1/2?insecure_skip_verify=true", "redis+cluster://a:1,b:2",
		"redis://a:1,b:2?cluster=true", "redis://[::1]", "redis://:p/w?x@h:1/1", "redis://h:1?dial_timeout=1s", "redis://%",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := parseURL(raw)
		if err != nil {
			return
		}
		if len(tg.addrs) == 0 || (len(tg.addrs) > 1 && !tg.cluster) || (tg.cluster && tg.db != 0) || tg.db < 0 {
			t.Fatalf("parseURL(%q) accepted an unusable target %+v", raw, tg)
		}
		for _, a := range tg.addrs {
			host, port, err := net.SplitHostPort(a)
			n, perr := strconv.Atoi(port)
			if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				t.Fatalf("parseURL(%q) produced bad address %q", raw, a)
			}
		}
		if tg.insecure && !tg.tls {
			t.Fatalf("parseURL(%q): insecure without TLS", raw)
		}
	})
}

func TestOpenPassword(t *testing.T) {
	r := testenv.StartRedis(t, testenv.WithPassword("s3cret"))
	secret := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	bare := "redis://" + r.Addr + "/0"
	tests := []struct {
		name   string
		url    string
		opts   []OpenOption
		wantOK bool
	}{
		{"in URL", r.URL, nil, true},
		{"option", bare, []OpenOption{WithPassword("s3cret")}, true},
		{"file", bare, []OpenOption{WithPasswordFile(secret)}, true},
		{"option overrides URL", "redis://:bad@" + r.Addr, []OpenOption{WithPassword("s3cret")}, true},
		{"empty file path ignored", r.URL, []OpenOption{WithPasswordFile("")}, true},
		{"none", bare, nil, false},
		{"wrong file", r.URL, []OpenOption{WithPasswordFile(wrong)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.url, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Ping(context.Background()).Err()
			if (err == nil) != tt.wantOK {
				t.Errorf("Ping error = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
	if _, err := Open(bare, WithPasswordFile(filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Error("Open with a missing password file succeeded")
	}
}

func TestOpenDB(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	c3, err := Open("redis://" + r.Addr + "/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := c3.Set(ctx, "k", "in-db-3", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c0, err := Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	if n, err := c0.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("db 0 sees db 3's key: %d, %v", n, err)
	}
	if _, ok := c0.(*redis.Client); !ok {
		t.Errorf("Open(single) = %T, want *redis.Client", c0)
	}
}

func TestOpenTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	tlsPort := testenv.FreePort(t)
	r := testenv.StartRedis(t, testenv.WithArgs(
		"--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", "no",
	))
	tlsURL := "rediss://127.0.0.1:" + strconv.Itoa(tlsPort) + "/0"
	tests := []struct {
		name   string
		url    string
		opts   []OpenOption
		wantOK bool
	}{
		{"CA file", tlsURL, []OpenOption{WithCAFile(caFile)}, true},
		{"insecure_skip_verify", tlsURL + "?insecure_skip_verify=true", nil, true},
		{"system roots reject test CA", tlsURL + "?dial_timeout=2s", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.url, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Ping(context.Background()).Err()
			if (err == nil) != tt.wantOK {
				t.Errorf("Ping over TLS error = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
	if _, err := Open(r.URL, WithCAFile(caFile)); err == nil {
		t.Error("Open(redis://, CA file) succeeded; want an error about the missing TLS")
	}
	if _, err := Open(tlsURL, WithCAFile(keyFile)); err == nil {
		t.Error("Open with a CA file that holds no certificate succeeded")
	}
}

// writeTestPKI writes a CA and a server certificate for 127.0.0.1.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "geotrack test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}
