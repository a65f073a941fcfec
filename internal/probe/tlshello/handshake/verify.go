package handshake

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

var (
	errBadSignature = errors.New("does not verify with the certificate's key")
	// errNotChecked: a DSA signature (TLS <= 1.2 only), which Go's
	// crypto no longer verifies in TLS, or an RSA key crypto/rsa refuses.
	errNotChecked = errors.New("signature not checked")
)

// legacyScheme is the signature a TLS 1.0 or 1.1 ServerKeyExchange
// carries: implied by the key, with no scheme on the wire.
func legacyScheme(pub crypto.PublicKey) uint16 {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return sigLegacyECDSASHA
	case *rsa.PublicKey:
		return sigLegacyMD5SHA1
	}
	return sigDSASHA1 // a DSA key (DHE_DSS), or one we do not know
}

// verify checks sig over msg with pub under scheme. tls13 allows only the
// schemes TLS 1.3 allows in a CertificateVerify, with the curve bound to
// the scheme.
func verify(pub crypto.PublicKey, scheme uint16, msg, sig []byte, tls13 bool) error {
	var h crypto.Hash
	var newHash func() hash.Hash
	var curve elliptic.Curve
	kind := "RSA"
	pss := false
	switch scheme {
	case sigPKCS1SHA1:
		h, newHash = crypto.SHA1, sha1.New
	case sigPKCS1SHA256:
		h, newHash = crypto.SHA256, sha256.New
	case sigPKCS1SHA384:
		h, newHash = crypto.SHA384, sha512.New384
	case sigPKCS1SHA512:
		h, newHash = crypto.SHA512, sha512.New
	case sigPSSRSAESHA256:
		h, newHash, pss = crypto.SHA256, sha256.New, true
	case sigPSSRSAESHA384:
		h, newHash, pss = crypto.SHA384, sha512.New384, true
	case sigPSSRSAESHA512:
		h, newHash, pss = crypto.SHA512, sha512.New, true
	case sigECDSASHA1, sigLegacyECDSASHA:
		h, newHash, kind = crypto.SHA1, sha1.New, "ECDSA"
	case sigECDSAP256:
		h, newHash, kind, curve = crypto.SHA256, sha256.New, "ECDSA", elliptic.P256()
	case sigECDSAP384:
		h, newHash, kind, curve = crypto.SHA384, sha512.New384, "ECDSA", elliptic.P384()
	case sigECDSAP521:
		h, newHash, kind, curve = crypto.SHA512, sha512.New, "ECDSA", elliptic.P521()
	case sigEd25519:
		kind = "Ed25519"
	case sigLegacyMD5SHA1:
		h = crypto.MD5SHA1
	case sigDSASHA1, sigDSASHA256:
		kind = "DSA"
	default:
		return fmt.Errorf("uses %s, which we did not offer", SchemeName(scheme))
	}
	if tls13 {
		switch {
		case scheme == sigEd25519 || pss:
		case kind == "ECDSA" && curve != nil:
		default:
			return fmt.Errorf("uses %s, which TLS 1.3 does not allow", SchemeName(scheme))
		}
	}
	var digest []byte
	switch {
	case h == crypto.MD5SHA1:
		m, s := md5.Sum(msg), sha1.Sum(msg)
		digest = append(m[:], s[:]...)
	case newHash != nil:
		d := newHash()
		d.Write(msg)
		digest = d.Sum(nil)
	}
	mismatch := func(key string) error {
		return fmt.Errorf("signs with %s, and the certificate's key is %s", SchemeName(scheme), key)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if kind != "RSA" {
			return mismatch("RSA")
		}
		var err error
		if pss {
			err = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest, sig)
		}
		if err != nil && k.N.BitLen() < 1024 {
			// crypto/rsa refuses keys this small (rsa1024min); no binary
			// lowers it, for lbcheckd's own listener is crypto/tls too.
			// Such a signature is not checked rather than called bad.
			return errNotChecked
		}
		if err != nil {
			return errBadSignature
		}
	case *ecdsa.PublicKey:
		if kind != "ECDSA" {
			return mismatch("ECDSA")
		}
		if tls13 && k.Curve != curve {
			return fmt.Errorf("uses %s with a key on %s", SchemeName(scheme), k.Curve.Params().Name)
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errBadSignature
		}
	case ed25519.PublicKey:
		if kind != "Ed25519" {
			return mismatch("Ed25519")
		}
		if !ed25519.Verify(k, msg, sig) {
			return errBadSignature
		}
	default:
		if kind == "DSA" {
			return errNotChecked // a DSA key, presumably: crypto/dsa is deprecated
		}
		return fmt.Errorf("cannot be checked: the certificate's key is of a kind we do not know (%T)", pub)
	}
	return nil
}
