package gotls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// Refusals of a key file that tests compare.
var (
	ErrEncryptedLegacy = errors.New("the key is encrypted (Proc-Type: 4,ENCRYPTED): a check cannot ask for a passphrase; decrypt it into a file only the check's user can read (openssl pkey -in FILE -out NEW)")
	ErrEncryptedPKCS8  = errors.New("the key is encrypted (ENCRYPTED PRIVATE KEY): a check cannot ask for a passphrase; decrypt it into a file only the check's user can read (openssl pkey -in FILE -out NEW)")
	ErrNoKey           = errors.New("no PEM private key in it (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)")
	ErrNoCert          = errors.New("no PEM certificate in it")
	ErrMismatch        = errors.New("the key does not match the certificate")
)

// loadPair reads --client-cert and --client-key (or the key from the
// certificate's file when --client-key is not given). Its errors are
// *tlsclient.FileError naming the option at fault.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := tlsclient.ReadPEMFile(certFile, tlsclient.MaxKeyFile, "a certificate and its key")
	if err != nil {
		return tls.Certificate{}, &tlsclient.FileError{Option: "--client-cert", File: certFile, Err: err}
	}
	keyPEM, keyOption := certPEM, "--client-cert"
	if keyFile != "" {
		if keyPEM, err = tlsclient.ReadPEMFile(keyFile, tlsclient.MaxKeyFile, "a private key"); err != nil {
			return tls.Certificate{}, &tlsclient.FileError{Option: "--client-key", File: keyFile, Err: err}
		}
		keyOption = "--client-key"
	}
	chain, leaf, err := parseChain(certPEM)
	if err != nil {
		return tls.Certificate{}, &tlsclient.FileError{Option: "--client-cert", File: certFile, Err: err}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		if errors.Is(err, ErrNoKey) && keyFile == "" {
			err = fmt.Errorf("%w; or name the key's file with --client-key", err)
		}
		return tls.Certificate{}, &tlsclient.FileError{Option: keyOption, File: keyOrCert(keyFile, certFile), Err: err}
	}
	if !matches(leaf.PublicKey, key) {
		err := ErrMismatch
		if keyFile != "" {
			err = fmt.Errorf("%w in --client-cert %s", err, probe.Clean(certFile, 120))
		}
		return tls.Certificate{}, &tlsclient.FileError{Option: keyOption, File: keyOrCert(keyFile, certFile), Err: err}
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

func keyOrCert(keyFile, certFile string) string {
	if keyFile != "" {
		return keyFile
	}
	return certFile
}

// parseChain returns the CERTIFICATE blocks of b, in order (the leaf
// first, as TLS sends them), and the leaf parsed. Other blocks (a key in
// a combined file) are passed over.
func parseChain(b []byte) (chain [][]byte, leaf *x509.Certificate, err error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, nil, ErrNoCert
	}
	if leaf, err = x509.ParseCertificate(chain[0]); err != nil {
		return nil, nil, fmt.Errorf("its first certificate: %w", err)
	}
	return chain, leaf, nil
}

// parseKey returns the first private key in b: PKCS#1 (RSA PRIVATE KEY),
// PKCS#8 (PRIVATE KEY) or SEC1 (EC PRIVATE KEY). An encrypted key is
// refused, naming which kind: Go has no passphrase to give it (and
// x509.DecryptPEMBlock's legacy encryption is broken by design).
func parseKey(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, ErrNoKey
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, ErrEncryptedPKCS8
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, ErrEncryptedLegacy
		}
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("a %s, which TLS cannot sign with: want RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("its %s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("its %s is a %T, which TLS cannot sign with: want RSA, ECDSA or Ed25519", block.Type, key)
	}
}

// matches reports whether key is the private half of pub.
func matches(pub crypto.PublicKey, key crypto.Signer) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}
