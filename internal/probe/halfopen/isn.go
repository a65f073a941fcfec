package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The Mux's ISN is a keyed hash of the probe's 4-tuple (SipHash-2-4,
// Aumasson and Bernstein 2012), as masscan's SYN cookie: a reply is
// checked by recomputing the hash from its own addresses and ports and
// comparing ack-1, with no table lookup for what is not ours, and nobody
// without the secret can forge an answer (the hash's output is a PRF of
// the key). The secret rotates every isnRotate (10 minutes); the one
// before is accepted until the next rotation, so a probe whose SYN left
// under the old secret is still answered for at least 10 minutes more,
// and at most 20: far more than a probe's deadline (seconds; the
// daemon's default is 5). A probe given a deadline past 10 minutes keeps
// the ISN it started with, so an answer that comes only after two
// rotations is not recognised, and the probe ends as "no answer".
const isnRotate = 10 * time.Minute

// sipKey is a 128-bit SipHash key.
type sipKey struct{ k0, k1 uint64 }

// isnKeys are the current and previous secrets.
type isnKeys struct {
	cur, prev sipKey
	at        time.Time // when cur was drawn
}

// isnSecret holds the secrets; reading them is one atomic load.
type isnSecret struct {
	keys   atomic.Pointer[isnKeys]
	mu     sync.Mutex // one rotation at a time
	random func([]byte) error
}

func newISNSecret(random func([]byte) error) (*isnSecret, error) {
	s := &isnSecret{random: random}
	cur, err := s.draw()
	if err != nil {
		return nil, err
	}
	prev, err := s.draw()
	if err != nil {
		return nil, err
	}
	s.keys.Store(&isnKeys{cur: cur, prev: prev, at: time.Now()})
	return s, nil
}

func (s *isnSecret) draw() (sipKey, error) {
	var b [16]byte
	if err := s.random(b[:]); err != nil {
		return sipKey{}, fmt.Errorf("ISN secret: %w", err)
	}
	return sipKey{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}, nil
}

// current returns the secrets, rotating them first if cur is older than
// isnRotate (checked on every send: no timer).
func (s *isnSecret) current(now time.Time) *isnKeys {
	k := s.keys.Load()
	if now.Sub(k.at) < isnRotate {
		return k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k = s.keys.Load(); now.Sub(k.at) < isnRotate {
		return k
	}
	next, err := s.draw()
	if err != nil {
		return k // keep the old secret rather than stop probing
	}
	nk := &isnKeys{cur: next, prev: k.cur, at: now}
	s.keys.Store(nk)
	return nk
}

// isn is the ISN of a SYN from local to remote under the current secret.
func (s *isnSecret) isn(local, remote netip.AddrPort, now time.Time) uint32 {
	return tupleHash(s.current(now).cur, local, remote)
}

// valid says whether x is the ISN of a SYN from local to remote under the
// current or the previous secret.
func (s *isnSecret) valid(local, remote netip.AddrPort, x uint32) bool {
	k := s.keys.Load()
	return tupleHash(k.cur, local, remote) == x || tupleHash(k.prev, local, remote) == x
}

// tupleHash is SipHash-2-4 of the 4-tuple (addresses as 16 bytes, an IPv4
// one mapped, and the ports), folded to 32 bits. It allocates nothing.
func tupleHash(k sipKey, local, remote netip.AddrPort) uint32 {
	var b [36]byte
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], l[:])
	binary.BigEndian.PutUint16(b[16:], local.Port())
	copy(b[18:34], r[:])
	binary.BigEndian.PutUint16(b[34:], remote.Port())
	h := sipHash24(k, b[:])
	return uint32(h) ^ uint32(h>>32)
}

// sipHash24 is SipHash-2-4 of m under k: two compression rounds per
// 8-byte word, four finalisation rounds, as the paper specifies.
func sipHash24(k sipKey, m []byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	n := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= w
		m = m[8:]
	}
	// The last word: the remaining bytes, and the message length's low
	// byte in the top byte.
	var last [8]byte
	copy(last[:], m)
	w := binary.LittleEndian.Uint64(last[:]) | uint64(n)<<56
	v3 ^= w
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= w
	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

// getrandom fills b from the kernel's CSPRNG, as crypto/rand would, without
// crypto/rand's package init in every run of check_tcp_half_open, which
// links this package.
func getrandom(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Getrandom(b, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("getrandom: %w", err)
		}
		b = b[n:]
	}
	return nil
}
