package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "subtitled test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// TestTLS: with http.tls set the daemon speaks HTTPS only: the API answers
// over TLS, the caption feed works over wss://, and plain HTTP is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "a", 1.5, "good day")
	cert, key, pool := selfSigned(t, dir)
	addr := freePort(t)
	cfg := filepath.Join(dir, "subtitled.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
http:
  tls: {cert: %s, key: %s}
models:
  tone: {path: %s}
channels:
  - id: news
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim]}
`, cert, key, toneModelDir(), ts)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", cfg, "--listen", addr)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 5 * time.Second}
	waitUntil(t, 60*time.Second, "HTTPS /healthz", func() bool {
		resp, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// Captions over wss:// with the same certificate.
	d := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("wss://"+addr+"/v1/channels/news/captions?track=verbatim", nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer conn.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("no cue over wss: %v", err)
		}
		if strings.Contains(string(msg), `"type":"cue"`) {
			if !strings.Contains(string(msg), "good day") {
				t.Fatalf("cue %s, want good day", msg)
			}
			break
		}
	}
	// Plain HTTP on the TLS port gets no API answer.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "ok") {
			t.Fatalf("plain HTTP answered /healthz on the TLS listener")
		}
	}
}

// TestCUDAFallback: a model configured for cuda:0 on a host whose ONNX
// Runtime has no CUDA provider (CI's CPU build) runs on the CPU: the daemon
// logs why, counts the fallback and still captions.
func TestCUDAFallback(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "a", 1.5, "good day")
	p := startDaemon(t, dir, fmt.Sprintf(`
models:
  tone: {path: %s, device: "cuda:0"}
channels:
  - id: news
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim]}
`, toneModelDir(), ts))
	ws := dialWS(t, p.addr, "news", "track=verbatim&since=1")
	waitUntil(t, 60*time.Second, "a cue from the CPU fallback", func() bool { return len(ws.cues()) > 0 })
	if got := ws.cues()[0].text(); got != "good day" {
		t.Fatalf("cue %q", got)
	}
	_, metrics := p.get("/metrics")
	for _, m := range []string{`subtitled_model_provider_fallbacks_total{model="tone"} 1`,
		`subtitled_model_provider{model="tone",provider="cpu"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if logs := p.logs(); !strings.Contains(logs, "falling back to CPU") || !strings.Contains(logs, "cuda:0") {
		t.Errorf("the log does not say why CUDA was not used:\n%s", logs)
	}
}
