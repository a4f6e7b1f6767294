package localserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// MinIOVersion is the MinIO server geotrack is tested against, built from
// source with `go install` (scripts/install-tools.sh). MinIO is AGPL: it is
// only ever run as a separate process, never imported.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// minioInstallHint is how to get minio when it is missing.
const minioInstallHint = "install it with `go install github.com/minio/minio@" + MinIOVersion + "` (or run scripts/install-tools.sh)"

// MinIOKMSKeyName names the static KMS key StartMinIO configures, which
// SSE-S3 encrypts objects with.
const MinIOKMSKeyName = "geotrack-test-key"

// MinIO is one single-node minio server started by StartMinIO.
type MinIO struct {
	Addr      string // 127.0.0.1:port
	Endpoint  string // http://127.0.0.1:port, the S3_ENDPOINT form
	Port      int
	PID       int
	Dir       string
	AccessKey string // root user
	SecretKey string // root password
	CAFile    string // with TLS: the certificate to trust (S3_CA_FILE)

	srv server
}

// MinIOConfig says how to start a minio server.
type MinIOConfig struct {
	// Dir holds data, certificates and minio.log; created if missing.
	Dir string
	// TLS serves https with a fresh self-signed certificate for 127.0.0.1,
	// whose PEM is at CAFile (SSE-C needs TLS).
	TLS bool
	// Port to listen on; 0 picks a free one.
	Port int
	// AccessKey and SecretKey are the root credentials; empty: random ones.
	AccessKey, SecretKey string
	// KMSKey is the base64 of the 32-byte static KMS key SSE-S3 encrypts
	// with; empty: a random one (objects then cannot be read after a
	// restart with another key, so keep it with a persistent Dir).
	KMSKey string
	// NoKMS starts the server without a KMS: SSE-S3 is refused, as by a
	// store whose operator configured none.
	NoKMS bool
}

// StartMinIO starts a minio server on a free loopback port with its data in
// dir/data, root credentials of its own and a static KMS key (SSE-S3 works),
// and waits until its S3 API answers. The caller stops it with Stop.
func StartMinIO(ctx context.Context, cfg MinIOConfig) (*MinIO, error) {
	dir := cfg.Dir
	bin, err := findBinary("minio", goBinDirs(), minioInstallHint)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("minio dir: %w", err)
	}
	kmsKey := cfg.KMSKey
	if kmsKey == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		kmsKey = base64.StdEncoding.EncodeToString(b)
	}
	m := &MinIO{Dir: dir, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}
	if m.AccessKey == "" || m.SecretKey == "" {
		m.AccessKey, m.SecretKey = "geotrack", "geotrack-"+randomHex(8)
	}
	certsDir := filepath.Join(dir, "certs")
	scheme := "http://"
	var client *http.Client = http.DefaultClient
	if cfg.TLS {
		if m.CAFile, err = selfSignedCert(certsDir); err != nil {
			return nil, err
		}
		scheme = "https://"
		pem, _ := os.ReadFile(m.CAFile)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	m.srv = server{
		name:          "minio",
		bin:           bin,
		dir:           dir,
		logPath:       filepath.Join(dir, "minio.log"),
		captureOutput: true,
		env:           minioEnv(m.AccessKey, m.SecretKey, kmsKey, cfg.NoKMS),
		args: func(port int) []string {
			return []string{"server", "--quiet", "--address", "127.0.0.1:" + strconv.Itoa(port), "--certs-dir", certsDir, filepath.Join(dir, "data")}
		},
		ready: func(ctx context.Context, addr string, _ int) error { return minioReady(ctx, client, scheme+addr) },
	}
	err = m.srv.launch(ctx, cfg.Port, func(port, pid int, addr string) {
		m.Port, m.PID, m.Addr, m.Endpoint = port, pid, addr, scheme+addr
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Restart starts the server again on the same port and data directory
// (after Stop or Kill), with the same credentials and KMS key.
func (m *MinIO) Restart(ctx context.Context) error {
	m.srv.signal(syscall.SIGTERM)
	return m.srv.launch(ctx, m.Port, func(port, pid int, addr string) { m.PID = pid })
}

// Stop terminates the server (SIGTERM, SIGKILL after a grace period) and
// reaps it. It is idempotent.
func (m *MinIO) Stop() { m.srv.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (m *MinIO) Kill() { m.srv.signal(syscall.SIGKILL) }

// Running reports whether the server process is alive (not yet reaped).
func (m *MinIO) Running() bool { return m.srv.running() }

// LogTail returns the last lines of the server's output.
func (m *MinIO) LogTail(lines int) string { return m.srv.logTail(lines) }

// minioReady reports nil once the S3 API answers: an anonymous ListBuckets
// is refused with 403 once the object layer is up (503 before, even when
// /minio/health/ready already says 200). minio always gets a fresh port
// (or its own on Restart), so the answer is its own.
func minioReady(ctx context.Context, client *http.Client, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("minio ready probe: %s", resp.Status)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// selfSignedCert writes a fresh self-signed certificate for 127.0.0.1 as
// minio's public.crt and private.key in dir and returns the certificate's
// path.
func selfSignedCert(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("minio certs: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "geotrack test minio"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("minio certs: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	crt := filepath.Join(dir, "public.crt")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "private.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", err
	}
	return crt, nil
}

func minioEnv(accessKey, secretKey, kmsKey string, noKMS bool) []string {
	env := []string{
		"MINIO_ROOT_USER=" + accessKey,
		"MINIO_ROOT_PASSWORD=" + secretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	}
	if !noKMS {
		env = append(env, "MINIO_KMS_SECRET_KEY="+MinIOKMSKeyName+":"+kmsKey)
	}
	return env
}
