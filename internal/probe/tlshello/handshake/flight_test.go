package handshake

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
)

// rec is a record of type typ carrying body.
func rec(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append([]byte{typ, 3, 3, byte(len(b) >> 8), byte(len(b))}, b...)
}

// msg is a handshake message.
func msg(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

var zeroSession = make([]byte, 32) // what a zeroReader client sends

// hello12 is a TLS 1.2 ServerHello body choosing suite.
func hello12(version, suite uint16) []byte {
	w := builder{}
	w.u16(version)
	w.bytes(bytes.Repeat([]byte{7}, 32))
	w.vec8(nil)
	w.u16(suite)
	w.u8(0)
	return w.b
}

// hello13 is a TLS 1.3 ServerHello (or, with retry, a HelloRetryRequest)
// body, echoing a zeroReader client's session ID, with a key share for
// group (just the group in a retry) and any extra extension bytes.
func hello13(suite, group uint16, share []byte, retry bool, extra ...byte) []byte {
	w := builder{}
	w.u16(0x0303)
	if retry {
		w.bytes(helloRetryRandom[:])
	} else {
		w.bytes(bytes.Repeat([]byte{7}, 32))
	}
	w.vec8(zeroSession)
	w.u16(suite)
	w.u8(0)
	at := w.open(2)
	w.raw(0, extSupportedVersions, 0, 2, 3, 4)
	if group != 0 {
		w.u16(extKeyShare)
		e := w.open(2)
		w.u16(group)
		if !retry {
			w.vec16(share)
		}
		w.close16(e)
	}
	w.raw(extra...)
	w.close16(at)
	return w.b
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// The scripted and fake servers below answer an X25519 share.

// scripted answers whatever is written with fixed bytes, handed out step
// bytes at a time, then EOF.
type scripted struct {
	in   []byte
	step int
}

func (s *scripted) Read(b []byte) (int, error) {
	if len(s.in) == 0 {
		return 0, io.EOF
	}
	n := min(len(b), len(s.in), s.step)
	copy(b, s.in[:n])
	s.in = s.in[n:]
	return n, nil
}

func (s *scripted) Write(b []byte) (int, error) { return len(b), nil }

// helloScripted runs a hello against fixed server bytes, step at a time.
func helloScripted(in []byte, step int) (*Client, error) {
	c := New(Config{Shares: []uint16{groupX25519}})
	c.rand = zeroReader{}
	err := c.Hello(&scripted{in: in, step: max(step, 1)})
	return c, err
}

func TestFlight(t *testing.T) {
	certDER := testCert(t, testKey(t, "p256"), testKey(t, "p256")).Certificate[0]
	certMsg := func(ders ...[]byte) []byte {
		var w builder
		at := w.open(3)
		for _, d := range ders {
			l := w.open(3)
			w.bytes(d)
			w.close24(l)
		}
		w.close24(at)
		return msg(msgCertificate, w.b)
	}
	base := make([]byte, 32)
	base[0] = 9 // the X25519 base point: a valid share
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	sh12 := msg(msgServerHello, hello12(0x0303, 0x009c))
	sh13 := msg(msgServerHello, hello13(0x1301, groupX25519, base, false))
	hrr := msg(msgServerHello, hello13(0x1301, groupP384, nil, true))
	done := msg(msgServerHelloDone, nil)
	full12 := append(rec(recordHandshake, sh12, certMsg(certDER)), rec(recordHandshake, msg(msgCertificateRequest, []byte{1, 1, 0, 0}), done)...)
	tests := []struct {
		name    string
		in      []byte
		err     error // nil, a fault kind, or an I/O error
		fault   string
		flight  string
		check   func(*Result) bool
		partial bool
	}{
		{"tls12 full flight", full12, nil, "", "ServerHello, Certificate, CertificateRequest, ServerHelloDone",
			func(r *Result) bool {
				return r.Done && r.CertRequested && r.Version == 0x0303 && r.Suite == 0x009c && r.Cert != nil && r.Chain == 1 && r.Proof == 0
			}, false},
		{"messages split across records", func() []byte {
			all := append(append([]byte{}, sh12...), done...)
			return append(rec(recordHandshake, all[:3]), append(rec(recordHandshake, all[3:40]), rec(recordHandshake, all[40:])...)...)
		}(), nil, "", "ServerHello, ServerHelloDone", func(r *Result) bool { return r.Done && r.Cert == nil }, false},
		{"tls13 hello then garbage", append(rec(recordHandshake, sh13), append(rec(recordCCS, []byte{1}), rec(recordAppData, make([]byte, 500))...)...),
			ErrDecrypt, "do not decrypt", "ServerHello", func(r *Result) bool { return r.Hello && r.Version == 0x0304 && !r.Done }, false},
		{"hello retry", append(rec(recordHandshake, hrr), rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupP384, p384.PublicKey().Bytes(), false)))...),
			io.EOF, "", "HelloRetryRequest, ServerHello", func(r *Result) bool { return r.Retry && r.Hello && r.RetryGroup == groupP384 && r.Group == groupP384 }, false},
		{"second hello retry", append(rec(recordHandshake, hrr), rec(recordHandshake, hrr)...), ErrBadHandshake, "a second HelloRetryRequest", "", nil, false},
		{"hello retry for a share we sent", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupX25519, nil, true))), ErrUnexpected, "asked for X25519", "", nil, false},
		{"hello retry for nothing", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, 0, nil, true))), ErrBadHandshake, "asks for nothing", "", nil, false},
		{"hello retry for tls12", rec(recordHandshake, msg(msgServerHello, func() []byte {
			b := hello12(0x0303, 0xc02f)
			copy(b[2:], helloRetryRandom[:])
			return b
		}())), ErrBadHandshake, "a HelloRetryRequest for TLSv1.2", "", nil, false},
		{"alert first", rec(recordAlert, []byte{2, 40}), ErrServerAlert, "TLS alert handshake_failure (40)", "nothing", nil, false},
		{"warning alert", rec(recordAlert, []byte{1, 112}), ErrServerAlert, "unrecognized_name (112) at warning level", "", nil, false},
		{"unknown alert", rec(recordAlert, []byte{2, 200}), ErrServerAlert, "alert (200)", "", nil, false},
		{"alert after hello", append(rec(recordHandshake, sh12), rec(recordAlert, []byte{2, 70})...), ErrServerAlert, "protocol_version (70)", "ServerHello", nil, false},
		{"short alert", rec(recordAlert, []byte{2}), ErrBadRecord, "too short", "", nil, false},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), ErrNotTLS, "not TLS", "", nil, false},
		{"one byte of http", []byte("H"), ErrNotTLS, "not TLS", "", nil, false},
		{"sslv2 style", []byte{0x80, 0x2e, 0x04, 0x00, 0x01, 0x00}, ErrNotTLS, "", "", nil, false},
		{"app data first", rec(recordAppData, []byte{1}), ErrNotTLS, "", "", nil, false},
		{"bad record type later", append(rec(recordHandshake, sh12), 0x30, 3, 3, 0, 1, 0), ErrBadRecord, "type 48", "", nil, false},
		{"record too long", []byte{22, 3, 3, 0x48, 0x01}, ErrRecordTooLong, "18433 bytes", "", nil, false},
		{"longest record allowed", append([]byte{22, 3, 3, 0x48, 0x00}, msg(msgServerHello, make([]byte, 18428))...), ErrBadHandshake, "ServerHello of 18428 bytes", "", nil, false},
		{"empty handshake record", rec(recordHandshake), ErrBadRecord, "empty", "", nil, false},
		{"certificate before hello", rec(recordHandshake, certMsg(certDER)), ErrBadHandshake, "Certificate before the ServerHello", "Certificate", nil, false},
		{"second hello", rec(recordHandshake, sh12, sh12), ErrBadHandshake, "unexpected ServerHello", "", nil, false},
		{"second certificate", rec(recordHandshake, sh12, certMsg(certDER), certMsg(certDER)), ErrBadHandshake, "a second Certificate", "", nil, false},
		{"finished in a tls12 flight", rec(recordHandshake, sh12, msg(msgFinished, make([]byte, 12))), ErrBadHandshake, "unexpected Finished in the server's TLSv1.2 flight", "", nil, false},
		{"ecdhe without key exchange", rec(recordHandshake, msg(msgServerHello, hello12(0x0303, 0xc02f)), certMsg(certDER), done), ErrBadHandshake, "no ServerKeyExchange", "", nil, false},
		{"certificate that does not parse", rec(recordHandshake, sh12, certMsg([]byte{1, 2, 3})), ErrCertificate, "certificate does not parse", "", nil, false},
		{"empty certificate list", rec(recordHandshake, sh12, certMsg(), done), nil, "", "", func(r *Result) bool { return r.Done && r.Cert == nil }, false},
		{"suite not offered", rec(recordHandshake, msg(msgServerHello, hello12(0x0303, 0x0001))), ErrUnexpected, "chose cipher suite 0x0001 with TLSv1.2, which we did not offer", "", nil, false},
		{"tls13 suite with tls12", rec(recordHandshake, msg(msgServerHello, hello12(0x0303, 0x1301))), ErrUnexpected, "TLS_AES_128_GCM_SHA256 with TLSv1.2", "", nil, false},
		{"sslv3", rec(recordHandshake, msg(msgServerHello, hello12(0x0300, 0x000a))), ErrUnexpected, "chose SSLv3", "", nil, false},
		{"psk", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupX25519, base, false, 0, extPreSharedKey, 0, 2, 0, 0))), ErrUnexpected, "pre-shared key", "", nil, false},
		{"session id not echoed", rec(recordHandshake, msg(msgServerHello, func() []byte {
			b := hello13(0x1301, groupX25519, base, false)
			b[35] = 1
			return b
		}())), ErrBadHandshake, "does not echo our session ID", "", nil, false},
		{"compression", rec(recordHandshake, msg(msgServerHello, func() []byte { b := hello12(0x0303, 0x009c); b[len(b)-1] = 1; return b }())), ErrBadHandshake, "(compression)", "", nil, false},
		{"short hello", rec(recordHandshake, msg(msgServerHello, []byte{3, 3, 1})), ErrBadHandshake, "malformed ServerHello (short)", "", nil, false},
		{"hello bad extensions", rec(recordHandshake, msg(msgServerHello, append(hello12(0x0303, 0x009c), 0, 9, 1))), ErrBadHandshake, "extensions length", "", nil, false},
		{"hello extension twice", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupX25519, base, false, 0, extSupportedVersions, 0, 2, 3, 4))), ErrBadHandshake, "extension twice", "", nil, false},
		{"tls13 share for a group we did not share", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupP384, p384.PublicKey().Bytes(), false))), ErrUnexpected, "no key share", "", nil, false},
		{"tls13 share that is no point", rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupX25519, []byte{4, 1, 2}, false))), ErrBadHandshake, "no X25519 point", "", nil, false},
		{"handshake in clear after 1.3 hello", append(rec(recordHandshake, sh13), rec(recordHandshake, done)...), ErrBadRecord, "after the keys changed", "", nil, false},
		{"message spans the key change", rec(recordHandshake, sh13, done[:2]), ErrBadHandshake, "spans the key change", "", nil, false},
		{"second change cipher spec", append(rec(recordHandshake, sh13), append(rec(recordCCS, []byte{1}), rec(recordCCS, []byte{1})...)...), ErrBadRecord, "a second or malformed ChangeCipherSpec", "", nil, false},
		{"change cipher spec in tls12", append(rec(recordHandshake, sh12), rec(recordCCS, []byte{1})...), ErrBadHandshake, "resumed a session we never had", "", nil, false},
		{"cut in a header", full12[:3], io.ErrUnexpectedEOF, "", "nothing", func(r *Result) bool { return !r.Hello }, true},
		{"cut in a record", full12[:50], io.ErrUnexpectedEOF, "", "nothing", func(r *Result) bool { return !r.Hello }, true},
		{"cut between records", rec(recordHandshake, sh12), io.EOF, "", "ServerHello", func(r *Result) bool { return r.Hello && !r.Done }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, then one byte at a time: the verdict must not depend
			// on how the network cut the stream.
			for _, step := range []int{len(tt.in), 1, 7} {
				c, err := helloScripted(tt.in, step)
				r := c.Result()
				if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
					t.Fatalf("step %d: err %v, want %v", step, err, tt.err)
				}
				if err != nil && !strings.Contains(err.Error(), tt.fault) {
					t.Errorf("step %d: fault %q, want %q in it", step, err, tt.fault)
				}
				if tt.flight != "" && r.FlightText() != tt.flight {
					t.Errorf("step %d: flight %q, want %q", step, r.FlightText(), tt.flight)
				}
				if tt.check != nil && !tt.check(r) {
					t.Errorf("step %d: result %+v", step, r)
				}
				var fa *Fault
				if !errors.As(err, &fa) && r.Partial != tt.partial {
					t.Errorf("step %d: partial %v", step, r.Partial)
				}
			}
		})
	}
}

// FuzzFlight: any bytes in any chunks give the same outcome, memory stays
// bounded, a fault once found sticks, and its words fit a summary line.
func FuzzFlight(f *testing.F) {
	base := make([]byte, 32)
	base[0] = 9
	f.Add(rec(recordHandshake, msg(msgServerHello, hello12(0x0303, 0xc02f)), msg(msgServerHelloDone, nil)), uint8(1))
	f.Add(append(rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupP384, nil, true))), rec(recordHandshake, msg(msgServerHello, hello13(0x1301, groupX25519, base, false)))...), uint8(3))
	f.Add(append(rec(recordHandshake, msg(msgServerHello, hello13(0x1303, groupX25519, base, false))), rec(recordAppData, make([]byte, 40))...), uint8(2))
	f.Add(rec(recordAlert, []byte{2, 40}), uint8(0))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"), uint8(5))
	f.Add([]byte{22, 3, 3, 0x48, 0x01}, uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		whole, errWhole := helloScripted(in, len(in))
		n := int(step%16) + 1
		parts, errParts := helloScripted(in, n)
		ew, ep := "", ""
		if errWhole != nil {
			ew = errWhole.Error()
		}
		if errParts != nil {
			ep = errParts.Error()
		}
		// A decryption failure is the one outcome that differs run to run
		// (fresh key shares); what came before it must not.
		if ew != ep {
			t.Fatalf("whole: %q; in chunks of %d: %q", ew, n, ep)
		}
		rw, rp := whole.Result(), parts.Result()
		if rw.Done != rp.Done || rw.Hello != rp.Hello || rw.Version != rp.Version || rw.FlightText() != rp.FlightText() {
			t.Fatalf("state differs: whole %+v, chunks %+v", rw, rp)
		}
		if cap(whole.rs.buf) > recordHeaderLen+maxRecordLen || len(rw.First) > maxFirst || len(rw.Seen) > maxSeen || cap(whole.hs) > 2*(maxMessageLen+maxRecordLen) {
			t.Fatalf("kept too much: buf %d first %d seen %d hs %d", cap(whole.rs.buf), len(rw.First), len(rw.Seen), cap(whole.hs))
		}
		if errWhole == nil && !rw.Done {
			t.Fatal("no error, and no complete flight")
		}
		var fa *Fault
		if errors.As(errWhole, &fa) {
			if _, _, again := whole.rs.next(); again != errWhole {
				t.Fatalf("a fault did not stick: %v, then %v", errWhole, again)
			}
			if strings.ContainsAny(fa.Msg, "\r\n|") {
				t.Fatalf("fault %q unfit for a summary", fa.Msg)
			}
		}
	})
}

// FuzzServerHello: the parser never panics, and what it accepts it read
// within bounds.
func FuzzServerHello(f *testing.F) {
	f.Add(hello12(0x0303, 0xc02f))
	f.Add(hello13(0x1301, groupX25519, make([]byte, 32), false))
	f.Add(hello13(0x1302, groupP384, nil, true, 0, extCookie, 0, 4, 0, 2, 1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := parseServerHello(b)
		if err != nil {
			if !errors.Is(err, ErrBadHandshake) || strings.ContainsAny(err.Error(), "\r\n|") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(sh.random) != 32 || len(sh.sessionID) > 32 {
			t.Fatalf("random %d, session id %d", len(sh.random), len(sh.sessionID))
		}
	})
}

// fake13 is a TLS 1.3 server in a few lines, for what Go's server will
// not do: it answers the ClientHello with a ServerHello and then protects
// whatever flight it is given, cut into records of recLen bytes of
// content type typ. With signer set it makes a real flight itself
// (EncryptedExtensions, Certificate, CertificateVerify, Finished);
// badFinished spoils the Finished.
type fake13 struct {
	suite       uint16
	plain       []byte
	recLen      int
	typ         uint8
	cert        []byte
	signer      crypto.Signer
	badFinished bool
	out         []byte
	wrote       bool
}

func (f *fake13) Read(b []byte) (int, error) {
	if len(f.out) == 0 {
		return 0, io.EOF
	}
	n := copy(b, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *fake13) Write(ch []byte) (int, error) {
	if f.wrote {
		return len(ch), nil // our ending
	}
	f.wrote = true
	p := parser{b: ch[9:]}
	p.u16()
	p.bytes(32)
	sid := p.vec8()
	p.vec16()
	p.vec8()
	exts := parser{b: p.vec16()}
	var peer []byte
	for len(exts.b) > 0 {
		typ, data := exts.u16(), exts.vec16()
		if typ != extKeyShare {
			continue
		}
		ks := parser{b: data}
		list := parser{b: ks.vec16()}
		for len(list.b) > 0 {
			g, k := list.u16(), list.vec16()
			if g == groupX25519 {
				peer = k
			}
		}
	}
	key, _ := ecdh.X25519().GenerateKey(rand.Reader)
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return 0, err
	}
	shared, _ := key.ECDH(pub)
	var w builder
	w.u16(0x0303)
	w.bytes(bytes.Repeat([]byte{7}, 32))
	w.vec8(sid)
	w.u16(f.suite)
	w.u8(0)
	at := w.open(2)
	w.raw(0, extSupportedVersions, 0, 2, 3, 4)
	w.u16(extKeyShare)
	e := w.open(2)
	w.u16(groupX25519)
	w.vec16(key.PublicKey().Bytes())
	w.close16(e)
	w.close16(at)
	sh := msg(msgServerHello, w.b)
	s := newSuite13(f.suite)
	th := s.hash()
	th.Write(ch[5:])
	th.Write(sh)
	hsKey := s.extract(shared, s.deriveSecret(s.extract(nil, nil), "derived", s.emptyHash()))
	sHS := s.deriveSecret(hsKey, "s hs traffic", th.Sum(nil))
	hc, _ := s.trafficKeys(sHS)
	plain := f.plain
	if f.signer != nil {
		plain = f.flight(s, th, sHS)
	}
	f.out = rec(recordHandshake, sh)
	step := max(f.recLen, 1)
	for i := 0; i < len(plain); i += step {
		f.out = append(f.out, hc.seal(f.typ, plain[i:min(i+step, len(plain))])...)
	}
	if len(plain) == 0 {
		f.out = append(f.out, hc.seal(f.typ, nil)...)
	}
	return len(ch), nil
}

// flight makes a real server flight, signing the transcript.
func (f *fake13) flight(s *suite13, th interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, sHS []byte) []byte {
	ee := msg(msgEncryptedExtensions, []byte{0, 0})
	var w builder
	w.u8(0)
	at := w.open(3)
	l := w.open(3)
	w.bytes(f.cert)
	w.close24(l)
	w.u16(0)
	w.close24(at)
	cert := msg(msgCertificate, w.b)
	th.Write(ee)
	th.Write(cert)
	signed := append(append(bytes.Repeat([]byte{' '}, 64), "TLS 1.3, server CertificateVerify\x00"...), th.Sum(nil)...)
	d := sha256.Sum256(signed)
	sig, err := f.signer.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	var v builder
	v.u16(sigECDSAP256)
	v.vec16(sig)
	cv := msg(msgCertificateVerify, v.b)
	th.Write(cv)
	mac := hmac.New(s.hash, s.expandLabel(sHS, "finished", nil, s.size))
	mac.Write(th.Sum(nil))
	fin := mac.Sum(nil)
	if f.badFinished {
		fin[0] ^= 1
	}
	return bytes.Join([][]byte{ee, cert, cv, msg(msgFinished, fin)}, nil)
}

// TestFake13: a real flight cut into records of every size down to one
// byte, in both AEADs, and a Finished that does not verify.
func TestFake13(t *testing.T) {
	key := testKey(t, "p256")
	der := testCert(t, key, key).Certificate[0]
	for _, tt := range []struct {
		name   string
		suite  uint16
		recLen int
		bad    bool
		err    error
	}{
		{"aes one record", 0x1301, 1 << 14, false, nil},
		{"aes one byte records", 0x1301, 1, false, nil},
		{"chacha 7 byte records", 0x1303, 7, false, nil},
		{"aes256 100 byte records", 0x1302, 100, false, nil},
		{"finished spoilt", 0x1301, 1 << 14, true, ErrFinished},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{Shares: []uint16{groupX25519}})
			err := c.Hello(&fake13{suite: tt.suite, recLen: tt.recLen, typ: recordHandshake, cert: der, signer: key, badFinished: tt.bad})
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if r := c.Result(); tt.err == nil && (!r.Done || r.Proof != sigECDSAP256 || r.FlightText() != "ServerHello, EncryptedExtensions, Certificate, CertificateVerify, Finished") {
				t.Errorf("result %+v (%s)", r, r.FlightText())
			}
		})
	}
}

// FuzzFlight13: whatever a TLS 1.3 server protects in its flight, in
// whatever records, the client returns a fault or a read error (nothing
// random carries a valid signature), never panics, and keeps its bounds.
func FuzzFlight13(f *testing.F) {
	key := testKey(f, "p256")
	der := testCert(f, key, key).Certificate[0]
	ee := msg(msgEncryptedExtensions, []byte{0, 0})
	var w builder
	w.u8(0)
	at := w.open(3)
	l := w.open(3)
	w.bytes(der)
	w.close24(l)
	w.u16(0)
	w.close24(at)
	cert := msg(msgCertificate, w.b)
	f.Add(ee, uint16(1000), uint8(recordHandshake), false)
	f.Add(append(append([]byte{}, ee...), cert...), uint16(50), uint8(recordHandshake), true)
	f.Add(append(append(append([]byte{}, ee...), cert...), msg(msgCertificateVerify, []byte{4, 3, 0, 2, 1, 2})...), uint16(3), uint8(recordHandshake), false)
	f.Add(append(append([]byte{}, ee...), msg(msgCertificateRequest, []byte{0, 0, 0})...), uint16(9), uint8(recordHandshake), false)
	f.Add([]byte{2, 40}, uint16(2), uint8(recordAlert), false)
	f.Add([]byte("x"), uint16(2), uint8(recordAppData), false)
	f.Add(msg(24, []byte{0}), uint16(1), uint8(recordHandshake), true)
	f.Fuzz(func(t *testing.T, plain []byte, recLen uint16, typ uint8, chacha bool) {
		suite := uint16(0x1301)
		if chacha {
			suite = 0x1303
		}
		c := New(Config{Shares: []uint16{groupX25519}})
		err := c.Hello(&fake13{suite: suite, plain: plain, recLen: int(recLen%(1<<14)) + 1, typ: typ})
		if err == nil {
			t.Fatalf("a flight with no valid signature passed: %+v", c.Result())
		}
		var fa *Fault
		if errors.As(err, &fa) && strings.ContainsAny(fa.Msg, "\r\n|") {
			t.Fatalf("fault %q unfit for a summary", fa.Msg)
		}
		if cap(c.hs) > 2*(maxMessageLen+maxRecordLen) || len(c.res.Seen) > maxSeen {
			t.Fatalf("kept too much: hs %d seen %d", cap(c.hs), len(c.res.Seen))
		}
	})
}

// TestEmptyHandshakeRecords: a server sending empty handshake records,
// which no TLS version allows, is a fault at the first, not a wait for
// the deadline (or, as here, the end of its endless supply).
func TestEmptyHandshakeRecords(t *testing.T) {
	c, err := helloScripted(bytes.Repeat(rec(recordHandshake), 10000), 1<<14)
	if !errors.Is(err, ErrBadRecord) {
		t.Fatalf("err %v, want ErrBadRecord; result %+v", err, c.Result())
	}
}
