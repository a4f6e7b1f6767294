package httpkit

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/testenv"
)

// TestServeTLSReloadsTheCertificate serves HTTPS with a certificate of a
// throwaway CA, then swaps the files for a certificate of another CA: new
// connections get it without a restart.
func TestServeTLSReloadsTheCertificate(t *testing.T) {
	first, second := testenv.NewCA(t), testenv.NewCA(t)
	certFile, keyFile := first.Issue(t, "fn")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeListener(ctx, ln, FunctionHandler(ok("hello"), Options{Name: "fn"}),
			Options{Name: "fn", TLSCertFile: certFile, TLSKeyFile: keyFile, ShutdownTimeout: time.Second})
	}()
	t.Cleanup(func() { cancel(); <-served })
	url := "https://" + ln.Addr().String() + "/"

	get := func(ca *testenv.CA) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(), DisableKeepAlives: true}, Timeout: 2 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if body, err := get(first); err != nil || body != "hello" {
		t.Fatalf("HTTPS with the first CA: %q, %v", body, err)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS listener: %s, want 400", resp.Status)
		}
	}
	if _, err := get(second); err == nil {
		t.Fatal("a client trusting only the second CA accepted the first certificate")
	}

	newCert, newKey := second.Issue(t, "fn2")
	for src, dst := range map[string]string{newCert: certFile, newKey: keyFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		body, err := get(second)
		if err == nil && body == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotated certificate was not served within 5s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTLSNeedsBothFiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = ServeListener(context.Background(), ln, http.NotFoundHandler(), Options{TLSCertFile: "/x.crt"})
	if err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
	ca := testenv.NewCA(t)
	cert, _ := ca.Issue(t, "fn")
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	if err := ServeListener(context.Background(), ln, http.NotFoundHandler(), Options{TLSCertFile: cert, TLSKeyFile: cert}); err == nil {
		t.Fatal("a certificate file given as key was accepted")
	}
	_ = tls.VersionTLS12
}
