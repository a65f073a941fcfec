package handshake

import "fmt"

// Key exchange of a cipher suite: what the server's flight must prove.
const (
	kxTLS13 = iota + 1 // TLS 1.3: CertificateVerify signs the transcript
	kxECDHE            // ServerKeyExchange with a signed curve point
	kxDHE              // ServerKeyExchange with signed DH parameters
	kxRSA              // no ServerKeyExchange: the key is never used in the hello
	kxECDH             // static ECDH: likewise
)

type suite struct {
	id   uint16
	kx   uint8
	name string
}

// suites is every cipher suite the ClientHello offers, in our order of
// preference: TLS 1.3 first, then what a TLS <= 1.2 server may choose,
// modern to legacy (DHE, CAMELLIA, ARIA, CCM, SEED, IDEA, 3DES, DES, RC4,
// RSA and static ECDH key exchange). A hello never exchanges a key or
// encrypts under a TLS <= 1.2 suite, so it can offer suites it does not
// implement: this checks liveness, not policy. Left out: NULL, anonymous,
// export, PSK, SRP and GOST suites, which need what a health check has
// not (a shared key, a password) or prove nothing (no certificate). A
// constant table: the linker lays it out, nothing runs at start.
var suites = [...]suite{
	{0x1301, kxTLS13, "TLS_AES_128_GCM_SHA256"},
	{0x1302, kxTLS13, "TLS_AES_256_GCM_SHA384"},
	{0x1303, kxTLS13, "TLS_CHACHA20_POLY1305_SHA256"},

	{0xc02b, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xc02f, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0xc02c, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xc030, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0xcca9, kxECDHE, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xcca8, kxECDHE, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xc0ac, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
	{0xc0ad, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
	{0xc0ae, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
	{0xc0af, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
	{0xc023, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xc027, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0xc024, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xc028, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
	{0xc009, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xc013, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
	{0xc00a, kxECDHE, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xc014, kxECDHE, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
	{0xc05c, kxECDHE, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
	{0xc05d, kxECDHE, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"},
	{0xc060, kxECDHE, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xc061, kxECDHE, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xc048, kxECDHE, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256"},
	{0xc049, kxECDHE, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384"},
	{0xc04c, kxECDHE, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xc04d, kxECDHE, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xc086, kxECDHE, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xc087, kxECDHE, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xc08a, kxECDHE, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xc08b, kxECDHE, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xc072, kxECDHE, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xc073, kxECDHE, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xc076, kxECDHE, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0xc077, kxECDHE, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"},
	{0xc008, kxECDHE, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
	{0xc012, kxECDHE, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0xc007, kxECDHE, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
	{0xc011, kxECDHE, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},

	{0x009e, kxDHE, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009f, kxDHE, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	{0x00a2, kxDHE, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"},
	{0x00a3, kxDHE, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
	{0xccaa, kxDHE, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	{0xc09e, kxDHE, "TLS_DHE_RSA_WITH_AES_128_CCM"},
	{0xc09f, kxDHE, "TLS_DHE_RSA_WITH_AES_256_CCM"},
	{0xc0a2, kxDHE, "TLS_DHE_RSA_WITH_AES_128_CCM_8"},
	{0xc0a3, kxDHE, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
	{0x0067, kxDHE, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
	{0x006b, kxDHE, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
	{0x0040, kxDHE, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
	{0x006a, kxDHE, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
	{0x0033, kxDHE, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
	{0x0039, kxDHE, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
	{0x0032, kxDHE, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
	{0x0038, kxDHE, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
	{0xc052, kxDHE, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xc053, kxDHE, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xc056, kxDHE, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"},
	{0xc057, kxDHE, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"},
	{0xc044, kxDHE, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xc045, kxDHE, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xc042, kxDHE, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256"},
	{0xc043, kxDHE, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384"},
	{0xc07c, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xc07d, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0xc080, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xc081, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384"},
	{0x00be, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00c4, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x00bd, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00c3, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x0045, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0088, kxDHE, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0044, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0087, kxDHE, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"},
	{0x009a, kxDHE, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"},
	{0x0099, kxDHE, "TLS_DHE_DSS_WITH_SEED_CBC_SHA"},
	{0x0016, kxDHE, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0013, kxDHE, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
	{0x0015, kxDHE, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
	{0x0012, kxDHE, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},

	{0x009c, kxRSA, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
	{0x009d, kxRSA, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
	{0xc09c, kxRSA, "TLS_RSA_WITH_AES_128_CCM"},
	{0xc09d, kxRSA, "TLS_RSA_WITH_AES_256_CCM"},
	{0xc0a0, kxRSA, "TLS_RSA_WITH_AES_128_CCM_8"},
	{0xc0a1, kxRSA, "TLS_RSA_WITH_AES_256_CCM_8"},
	{0x003c, kxRSA, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
	{0x003d, kxRSA, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
	{0x002f, kxRSA, "TLS_RSA_WITH_AES_128_CBC_SHA"},
	{0x0035, kxRSA, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	{0xc050, kxRSA, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"},
	{0xc051, kxRSA, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"},
	{0xc03c, kxRSA, "TLS_RSA_WITH_ARIA_128_CBC_SHA256"},
	{0xc03d, kxRSA, "TLS_RSA_WITH_ARIA_256_CBC_SHA384"},
	{0xc07a, kxRSA, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256"},
	{0xc07b, kxRSA, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384"},
	{0x00ba, kxRSA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
	{0x00c0, kxRSA, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
	{0x0041, kxRSA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
	{0x0084, kxRSA, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"},
	{0x0096, kxRSA, "TLS_RSA_WITH_SEED_CBC_SHA"},
	{0x0007, kxRSA, "TLS_RSA_WITH_IDEA_CBC_SHA"},
	{0x000a, kxRSA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
	{0x0009, kxRSA, "TLS_RSA_WITH_DES_CBC_SHA"},
	{0x0005, kxRSA, "TLS_RSA_WITH_RC4_128_SHA"},
	{0x0004, kxRSA, "TLS_RSA_WITH_RC4_128_MD5"},

	{0xc02d, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
	{0xc02e, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"},
	{0xc031, kxECDH, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"},
	{0xc032, kxECDH, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"},
	{0xc025, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"},
	{0xc026, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"},
	{0xc029, kxECDH, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"},
	{0xc02a, kxECDH, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"},
	{0xc004, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
	{0xc005, kxECDH, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
	{0xc00e, kxECDH, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
	{0xc00f, kxECDH, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
}

// lookupSuite finds an offered suite; nil when we did not offer it.
func lookupSuite(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// SuiteName names a cipher suite as IANA does.
func SuiteName(id uint16) string {
	if s := lookupSuite(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("cipher suite 0x%04X", id)
}

// VersionName names a protocol version as OpenSSL does: "TLSv1.3".
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1.0"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	return fmt.Sprintf("version 0x%04x", v)
}

// Named groups (RFC 8446 4.2.7).
const (
	groupP256   = 23
	groupP384   = 24
	groupP521   = 25
	groupX25519 = 29
)

// GroupName names a key exchange group.
func GroupName(g uint16) string {
	switch g {
	case groupP256:
		return "P-256"
	case groupP384:
		return "P-384"
	case groupP521:
		return "P-521"
	case groupX25519:
		return "X25519"
	case 30:
		return "X448"
	case 0x11ec:
		return "X25519MLKEM768"
	}
	if g >= 256 && g <= 260 {
		return fmt.Sprintf("ffdhe%d", []int{2048, 3072, 4096, 6144, 8192}[g-256])
	}
	return fmt.Sprintf("group 0x%04x", g)
}

// Signature schemes (RFC 8446 4.2.3).
const (
	sigPKCS1SHA1      = 0x0201
	sigDSASHA1        = 0x0202
	sigECDSASHA1      = 0x0203
	sigPKCS1SHA256    = 0x0401
	sigDSASHA256      = 0x0402
	sigECDSAP256      = 0x0403
	sigPKCS1SHA384    = 0x0501
	sigECDSAP384      = 0x0503
	sigPKCS1SHA512    = 0x0601
	sigECDSAP521      = 0x0603
	sigPSSRSAESHA256  = 0x0804
	sigPSSRSAESHA384  = 0x0805
	sigPSSRSAESHA512  = 0x0806
	sigEd25519        = 0x0807
	sigLegacyMD5SHA1  = 0xfff1 // TLS <= 1.1 with an RSA key: not on the wire
	sigLegacyECDSASHA = 0xfff2 // TLS <= 1.1 with an ECDSA key: not on the wire
)

// SchemeName names a signature scheme.
func SchemeName(s uint16) string {
	switch s {
	case sigPKCS1SHA1:
		return "rsa_pkcs1_sha1"
	case sigDSASHA1:
		return "dsa_sha1"
	case sigECDSASHA1:
		return "ecdsa_sha1"
	case sigPKCS1SHA256:
		return "rsa_pkcs1_sha256"
	case sigDSASHA256:
		return "dsa_sha256"
	case sigECDSAP256:
		return "ecdsa_secp256r1_sha256"
	case sigPKCS1SHA384:
		return "rsa_pkcs1_sha384"
	case sigECDSAP384:
		return "ecdsa_secp384r1_sha384"
	case sigPKCS1SHA512:
		return "rsa_pkcs1_sha512"
	case sigECDSAP521:
		return "ecdsa_secp521r1_sha512"
	case sigPSSRSAESHA256:
		return "rsa_pss_rsae_sha256"
	case sigPSSRSAESHA384:
		return "rsa_pss_rsae_sha384"
	case sigPSSRSAESHA512:
		return "rsa_pss_rsae_sha512"
	case sigEd25519:
		return "ed25519"
	case sigLegacyMD5SHA1:
		return "rsa_pkcs1_md5_sha1"
	case sigLegacyECDSASHA:
		return "ecdsa_sha1"
	}
	return fmt.Sprintf("signature scheme 0x%04x", s)
}

// Handshake message types (RFC 8446 4, RFC 5246 7.4).
const (
	msgServerHello         = 2
	msgNewSessionTicket    = 4
	msgEncryptedExtensions = 8
	msgCertificate         = 11
	msgServerKeyExchange   = 12
	msgCertificateRequest  = 13
	msgServerHelloDone     = 14
	msgCertificateVerify   = 15
	msgFinished            = 20
	msgCertificateStatus   = 22
	msgMessageHash         = 254
	msgHelloRetryRequest   = 255 // not on the wire: a ServerHello with the HRR random
)

// MessageName names a handshake message type.
func MessageName(t uint8) string {
	switch t {
	case 0:
		return "HelloRequest"
	case msgServerHello:
		return "ServerHello"
	case msgNewSessionTicket:
		return "NewSessionTicket"
	case msgEncryptedExtensions:
		return "EncryptedExtensions"
	case msgCertificate:
		return "Certificate"
	case msgServerKeyExchange:
		return "ServerKeyExchange"
	case msgCertificateRequest:
		return "CertificateRequest"
	case msgServerHelloDone:
		return "ServerHelloDone"
	case msgCertificateVerify:
		return "CertificateVerify"
	case msgFinished:
		return "Finished"
	case msgCertificateStatus:
		return "CertificateStatus"
	case 24:
		return "KeyUpdate"
	case msgHelloRetryRequest:
		return "HelloRetryRequest"
	}
	return fmt.Sprintf("handshake type %d", t)
}

// AlertText names an alert as the RFCs do: "handshake_failure (40)".
func AlertText(level, desc uint8) string {
	s := AlertName(desc) + fmt.Sprintf(" (%d)", desc)
	if level == 1 {
		s += " at warning level"
	}
	return s
}

// AlertName is a switch, not a map: a map literal is built at every start.
func AlertName(d uint8) string {
	switch d {
	case 0:
		return "close_notify"
	case 10:
		return "unexpected_message"
	case 20:
		return "bad_record_mac"
	case 21:
		return "decryption_failed"
	case 22:
		return "record_overflow"
	case 30:
		return "decompression_failure"
	case 40:
		return "handshake_failure"
	case 41:
		return "no_certificate"
	case 42:
		return "bad_certificate"
	case 43:
		return "unsupported_certificate"
	case 44:
		return "certificate_revoked"
	case 45:
		return "certificate_expired"
	case 46:
		return "certificate_unknown"
	case 47:
		return "illegal_parameter"
	case 48:
		return "unknown_ca"
	case 49:
		return "access_denied"
	case 50:
		return "decode_error"
	case 51:
		return "decrypt_error"
	case 60:
		return "export_restriction"
	case 70:
		return "protocol_version"
	case 71:
		return "insufficient_security"
	case 80:
		return "internal_error"
	case 86:
		return "inappropriate_fallback"
	case 90:
		return "user_canceled"
	case 100:
		return "no_renegotiation"
	case 109:
		return "missing_extension"
	case 110:
		return "unsupported_extension"
	case 112:
		return "unrecognized_name"
	case 113:
		return "bad_certificate_status_response"
	case 115:
		return "unknown_psk_identity"
	case 116:
		return "certificate_required"
	case 120:
		return "no_application_protocol"
	}
	return "alert"
}
