package handshake

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/bits"
)

// ChaCha20-Poly1305 (RFC 8439), for a TLS 1.3 server that chooses
// TLS_CHACHA20_POLY1305_SHA256. The standard library has it only inside
// crypto/tls; golang.org/x/crypto's (a module lbcheckd already pulls in)
// would add its CPU detection to every start of check_ssl_hello
// (x/sys/cpu's init, 0.1-0.3 ms measured), for the few records of one
// handshake. Written from
// the RFC, checked against its test vectors and against Go's TLS server.

var errOpen = errors.New("chacha20poly1305: message authentication failed")

type chacha20poly1305 struct{ key [8]uint32 }

func newChaCha20Poly1305(key []byte) (*chacha20poly1305, error) {
	if len(key) != 32 {
		return nil, errors.New("chacha20poly1305: bad key length")
	}
	a := &chacha20poly1305{}
	for i := range a.key {
		a.key[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	return a, nil
}

func (*chacha20poly1305) NonceSize() int { return 12 }
func (*chacha20poly1305) Overhead() int  { return 16 }

// block writes the ChaCha20 block for counter and nonce into out.
func (a *chacha20poly1305) block(out *[64]byte, counter uint32, nonce []byte) {
	var s, x [16]uint32
	s[0], s[1], s[2], s[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	copy(s[4:12], a.key[:])
	s[12] = counter
	s[13] = binary.LittleEndian.Uint32(nonce[0:])
	s[14] = binary.LittleEndian.Uint32(nonce[4:])
	s[15] = binary.LittleEndian.Uint32(nonce[8:])
	x = s
	qr := func(a, b, c, d int) {
		x[a] += x[b]
		x[d] = bits.RotateLeft32(x[d]^x[a], 16)
		x[c] += x[d]
		x[b] = bits.RotateLeft32(x[b]^x[c], 12)
		x[a] += x[b]
		x[d] = bits.RotateLeft32(x[d]^x[a], 8)
		x[c] += x[d]
		x[b] = bits.RotateLeft32(x[b]^x[c], 7)
	}
	for range 10 {
		qr(0, 4, 8, 12)
		qr(1, 5, 9, 13)
		qr(2, 6, 10, 14)
		qr(3, 7, 11, 15)
		qr(0, 5, 10, 15)
		qr(1, 6, 11, 12)
		qr(2, 7, 8, 13)
		qr(3, 4, 9, 14)
	}
	for i := range x {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+s[i])
	}
}

// xor encrypts or decrypts src into dst from block counter 1 on.
func (a *chacha20poly1305) xor(dst, src, nonce []byte) {
	var ks [64]byte
	for i, ctr := 0, uint32(1); i < len(src); i, ctr = i+64, ctr+1 {
		a.block(&ks, ctr, nonce)
		n := min(64, len(src)-i)
		subtle.XORBytes(dst[i:i+n], src[i:i+n], ks[:n])
	}
}

// tag is the Poly1305 MAC over the AEAD construction of ad and ct.
func (a *chacha20poly1305) tag(out *[16]byte, nonce, ad, ct []byte) {
	var ks [64]byte
	a.block(&ks, 0, nonce)
	var p poly1305
	p.init(ks[:32])
	p.update(ad, true)
	p.update(ct, true)
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[0:], uint64(len(ad)))
	binary.LittleEndian.PutUint64(lens[8:], uint64(len(ct)))
	p.update(lens[:], false)
	p.sum(out)
}

func (a *chacha20poly1305) Seal(dst, nonce, plaintext, ad []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, len(plaintext)+16)...)
	ct := dst[n : n+len(plaintext)]
	a.xor(ct, plaintext, nonce)
	var t [16]byte
	a.tag(&t, nonce, ad, ct)
	copy(dst[n+len(plaintext):], t[:])
	return dst
}

func (a *chacha20poly1305) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) < 16 {
		return nil, errOpen
	}
	ct, got := ciphertext[:len(ciphertext)-16], ciphertext[len(ciphertext)-16:]
	var want [16]byte
	a.tag(&want, nonce, ad, ct)
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return nil, errOpen
	}
	n := len(dst)
	if cap(dst)-n >= len(ct) {
		dst = dst[:n+len(ct)]
	} else {
		dst = append(dst, make([]byte, len(ct))...)
	}
	a.xor(dst[n:], ct, nonce)
	return dst, nil
}

// poly1305 is the one-time authenticator of RFC 8439 2.5, on five 26-bit
// limbs so that every product fits in 64 bits.
type poly1305 struct {
	r, h [5]uint64
	s    [4]uint32
}

func (p *poly1305) init(key []byte) {
	le := binary.LittleEndian.Uint32
	p.r[0] = uint64(le(key[0:])) & 0x3ffffff
	p.r[1] = uint64(le(key[3:])>>2) & 0x3ffff03
	p.r[2] = uint64(le(key[6:])>>4) & 0x3ffc0ff
	p.r[3] = uint64(le(key[9:])>>6) & 0x3f03fff
	p.r[4] = uint64(le(key[12:])>>8) & 0x00fffff
	for i := range p.s {
		p.s[i] = le(key[16+4*i:])
	}
	p.h = [5]uint64{}
}

// update absorbs msg in 16-byte blocks; with pad, a short last block is
// padded with zeros to 16 bytes (as the AEAD construction pads), else it
// is taken as RFC 8439's last block (a 1 after its bytes).
func (p *poly1305) update(msg []byte, pad bool) {
	for len(msg) > 0 {
		var blk [16]byte
		n := copy(blk[:], msg)
		msg = msg[n:]
		hibit := uint64(1 << 24)
		if n < 16 && !pad {
			blk[n] = 1
			hibit = 0
		}
		p.block(&blk, hibit)
	}
}

func (p *poly1305) block(blk *[16]byte, hibit uint64) {
	const mask = 0x3ffffff
	le := binary.LittleEndian.Uint32
	t0, t1, t2, t3 := uint64(le(blk[0:])), uint64(le(blk[4:])), uint64(le(blk[8:])), uint64(le(blk[12:]))
	h0 := p.h[0] + t0&mask
	h1 := p.h[1] + (t0>>26|t1<<6)&mask
	h2 := p.h[2] + (t1>>20|t2<<12)&mask
	h3 := p.h[3] + (t2>>14|t3<<18)&mask
	h4 := p.h[4] + (t3>>8 | hibit)
	r0, r1, r2, r3, r4 := p.r[0], p.r[1], p.r[2], p.r[3], p.r[4]
	s1, s2, s3, s4 := r1*5, r2*5, r3*5, r4*5
	d0 := h0*r0 + h1*s4 + h2*s3 + h3*s2 + h4*s1
	d1 := h0*r1 + h1*r0 + h2*s4 + h3*s3 + h4*s2
	d2 := h0*r2 + h1*r1 + h2*r0 + h3*s4 + h4*s3
	d3 := h0*r3 + h1*r2 + h2*r1 + h3*r0 + h4*s4
	d4 := h0*r4 + h1*r3 + h2*r2 + h3*r1 + h4*r0
	c := d0 >> 26
	h0 = d0 & mask
	d1 += c
	c = d1 >> 26
	h1 = d1 & mask
	d2 += c
	c = d2 >> 26
	h2 = d2 & mask
	d3 += c
	c = d3 >> 26
	h3 = d3 & mask
	d4 += c
	c = d4 >> 26
	h4 = d4 & mask
	h0 += c * 5
	c = h0 >> 26
	h0 &= mask
	h1 += c
	p.h = [5]uint64{h0, h1, h2, h3, h4}
}

func (p *poly1305) sum(out *[16]byte) {
	const mask = 0x3ffffff
	h0, h1, h2, h3, h4 := p.h[0], p.h[1], p.h[2], p.h[3], p.h[4]
	c := h1 >> 26
	h1 &= mask
	h2 += c
	c = h2 >> 26
	h2 &= mask
	h3 += c
	c = h3 >> 26
	h3 &= mask
	h4 += c
	c = h4 >> 26
	h4 &= mask
	h0 += c * 5
	c = h0 >> 26
	h0 &= mask
	h1 += c
	// g = h + 5 - 2^130: if it does not go negative, h >= p and g is h mod p.
	g0 := h0 + 5
	c = g0 >> 26
	g0 &= mask
	g1 := h1 + c
	c = g1 >> 26
	g1 &= mask
	g2 := h2 + c
	c = g2 >> 26
	g2 &= mask
	g3 := h3 + c
	c = g3 >> 26
	g3 &= mask
	g4 := h4 + c - 1<<26
	keep := (g4 >> 63) - 1 // all ones when g4 >= 0: take g
	h0 = h0&^keep | g0&keep
	h1 = h1&^keep | g1&keep
	h2 = h2&^keep | g2&keep
	h3 = h3&^keep | g3&keep
	h4 = h4&^keep | g4&keep
	w0 := (h0 | h1<<26) & 0xffffffff
	w1 := (h1>>6 | h2<<20) & 0xffffffff
	w2 := (h2>>12 | h3<<14) & 0xffffffff
	w3 := (h3>>18 | h4<<8) & 0xffffffff
	f := w0 + uint64(p.s[0])
	binary.LittleEndian.PutUint32(out[0:], uint32(f))
	f = w1 + uint64(p.s[1]) + f>>32
	binary.LittleEndian.PutUint32(out[4:], uint32(f))
	f = w2 + uint64(p.s[2]) + f>>32
	binary.LittleEndian.PutUint32(out[8:], uint32(f))
	f = w3 + uint64(p.s[3]) + f>>32
	binary.LittleEndian.PutUint32(out[12:], uint32(f))
}
