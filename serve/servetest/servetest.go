// Package servetest makes what tests of frm serve need: a certificate
// authority with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
package servetest

import (
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
	"testing"
	"time"
)

// PKI is a test CA with a server certificate for 127.0.0.1 (and
// localhost) and a client certificate, as PEM files in a test directory.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// NewPKI generates the CA and both certificates (ECDSA P-256, valid for
// an hour) in a test directory.
func NewPKI(t testing.TB) PKI {
	t.Helper()
	p, err := Generate(t.TempDir(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Generate writes the CA and both certificates into dir, valid for the
// given time (benchmarks use it too).
func Generate(dir string, valid time.Duration) (p PKI, err error) {
	fail := func(e error) {
		if err == nil {
			err = e
		}
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			fail(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			fail(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "frm test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, cerr := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if cerr != nil {
		return PKI{}, cerr
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid), IPAddresses: ips, DNSNames: dns,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			fail(err)
		}
		return der, k
	}
	marshal := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			fail(err)
		}
		return b
	}
	sDER, sKey := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"})
	cDER, cKey := leaf(3, "peer", x509.ExtKeyUsageClientAuth, nil, nil)
	p = PKI{
		CA:         write("ca.pem", "CERTIFICATE", caDER),
		ServerCert: write("server.pem", "CERTIFICATE", sDER),
		ServerKey:  write("server.key", "EC PRIVATE KEY", marshal(sKey)),
		ClientCert: write("client.pem", "CERTIFICATE", cDER),
		ClientKey:  write("client.key", "EC PRIVATE KEY", marshal(cKey)),
	}
	return p, err
}
