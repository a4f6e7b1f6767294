package httpkit

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often, at most, the certificate files are
// stat'ed for a change (a handshake triggers the check).
const certCheckInterval = time.Second

// certReloader serves the certificate of a cert/key file pair and re-reads
// it when either file changes (cert-manager or a Kubernetes secret rotating
// it in place), so a renewed certificate needs no restart. A pair that
// fails to load keeps the previous one in service.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // size and modification time of both files
	checkedAt time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(time.Now()); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) fileStamp() (string, error) {
	var stamp string
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d:%d;", st.Size(), st.ModTime().UnixNano())
	}
	return stamp, nil
}

func (r *certReloader) load(now time.Time) error {
	stamp, err := r.fileStamp()
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
	}
	r.cert, r.stamp, r.checkedAt = &cert, stamp, now
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.checkedAt) < certCheckInterval {
		return r.cert, nil
	}
	r.checkedAt = now
	if stamp, err := r.fileStamp(); err == nil && stamp == r.stamp {
		return r.cert, nil
	}
	old := r.cert
	if err := r.load(now); err != nil {
		r.cert = old
		r.log.Warn("TLS certificate changed but does not load; serving the previous one", slog.Any("error", err))
		return r.cert, nil
	}
	r.log.Info("TLS certificate reloaded", slog.String("cert", r.certFile))
	return r.cert, nil
}

// tlsListener wraps ln in TLS when opts name a certificate, else returns ln.
func tlsListener(ln net.Listener, opts Options, log *slog.Logger) (net.Listener, error) {
	if opts.TLSCertFile == "" && opts.TLSKeyFile == "" {
		return ln, nil
	}
	if opts.TLSCertFile == "" || opts.TLSKeyFile == "" {
		return nil, fmt.Errorf("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
	}
	r, err := newCertReloader(opts.TLSCertFile, opts.TLSKeyFile, log)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(ln, cfg), nil
}
