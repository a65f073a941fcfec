package halfopen

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
	"testing"
	"time"
)

// SipHash-2-4 against the reference test vectors of Aumasson and
// Bernstein (key 00..0f, message 00..len-1; outputs as little-endian
// bytes): every message length up to two words, so each tail length.
func TestSipHashVectors(t *testing.T) {
	want := [][8]byte{
		{0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},
		{0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74},
		{0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d},
		{0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85},
		{0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf},
		{0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18},
		{0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb},
		{0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab},
		{0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93},
		{0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e},
		{0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a},
		{0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4},
		{0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75},
		{0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14},
		{0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7},
		{0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}, // the paper's example
	}
	k := sipKey{0x0706050403020100, 0x0f0e0d0c0b0a0908}
	msg := make([]byte, len(want))
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, w := range want {
		if got := sipHash24(k, msg[:n]); got != binary.LittleEndian.Uint64(w[:]) {
			t.Errorf("length %d: %#016x, want %#016x", n, got, binary.LittleEndian.Uint64(w[:]))
		}
	}
}

func fixedRandom(seed uint64) func([]byte) error {
	return func(b []byte) error {
		for i := range b {
			seed = seed*6364136223846793005 + 1442695040888963407
			b[i] = byte(seed >> 56)
		}
		return nil
	}
}

// A reply validates under the current secret and the previous one, not
// once that is two rotations old; a draw that fails keeps the old secret.
func TestISNRotation(t *testing.T) {
	s, err := newISNSecret(fixedRandom(1))
	if err != nil {
		t.Fatal(err)
	}
	local, remote := netip.MustParseAddrPort("10.0.0.1:61000"), netip.MustParseAddrPort("10.0.0.2:80")
	t0 := time.Now()
	x := s.isn(local, remote, t0)
	if !s.valid(local, remote, x) {
		t.Fatal("a fresh ISN does not validate")
	}
	if s.isn(local, remote, t0.Add(isnRotate-time.Second)) != x {
		t.Error("the ISN changed before the rotation")
	}
	y := s.isn(local, remote, t0.Add(isnRotate+time.Second))
	if y == x {
		t.Error("the ISN did not change with the secret")
	}
	if !s.valid(local, remote, x) || !s.valid(local, remote, y) {
		t.Error("after one rotation the previous secret's ISN is refused")
	}
	s.isn(local, remote, t0.Add(2*isnRotate+2*time.Second))
	if s.valid(local, remote, x) {
		t.Error("two rotations later the old ISN is still accepted")
	}
	s.random = func([]byte) error { return errors.New("no entropy") }
	before := s.keys.Load()
	s.isn(local, remote, t0.Add(4*isnRotate))
	if s.keys.Load() != before {
		t.Error("a failed draw replaced the secret")
	}
}

// The ISN is not predictable without the secret: for the same 4-tuple two
// secrets give unrelated ISNs, neighbouring 4-tuples (the next port, the
// next address) give unrelated ISNs under one secret, and no affine rule
// an observer could fit to a run of consecutive ports predicts the next.
// Each output bit flips with probability about 1/2 (avalanche).
func TestISNUnpredictable(t *testing.T) {
	k1, k2 := sipKey{1, 2}, sipKey{3, 4}
	remote := netip.MustParseAddrPort("192.0.2.7:443")
	const n = 4096
	var flips [2]int // other secret; next port
	seen := map[uint32]bool{}
	prevDiff, sameDiff := uint32(0), 0
	prev := uint32(0)
	for i := range n {
		local := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(61000+i))
		a := tupleHash(k1, local, remote)
		flips[0] += bits.OnesCount32(a ^ tupleHash(k2, local, remote))
		next := netip.AddrPortFrom(local.Addr(), local.Port()+1)
		flips[1] += bits.OnesCount32(a ^ tupleHash(k1, next, remote))
		seen[a] = true
		if d := a - prev; i > 1 && d == prevDiff {
			sameDiff++
		} else {
			prevDiff = d
		}
		prev = a
	}
	for i, what := range []string{"another secret", "the next port"} {
		// 16 bits of 32 on average; 4096 samples put the mean within
		// +-0.2 of it with overwhelming probability.
		if mean := float64(flips[i]) / n; mean < 15.5 || mean > 16.5 {
			t.Errorf("%s flips %.2f of 32 ISN bits on average, want about 16", what, mean)
		}
	}
	if len(seen) < n-2 {
		t.Errorf("%d distinct ISNs for %d ports: collisions", len(seen), n)
	}
	if sameDiff > 2 {
		t.Errorf("consecutive ports' ISNs step by the same amount %d times: predictable", sameDiff)
	}
	// The real secret comes from the kernel: two Muxes never share one.
	a, err := newISNSecret(getrandom)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newISNSecret(getrandom)
	if a.keys.Load().cur == b.keys.Load().cur {
		t.Error("two secrets drawn alike")
	}
}

// What validating a reply costs: one hash (two when it is not ours, or
// came under the previous secret).
func BenchmarkTupleHash(b *testing.B) {
	k := sipKey{1, 2}
	local, remote := netip.MustParseAddrPort("[fd00::1]:61000"), netip.MustParseAddrPort("[fd00::2]:443")
	var x uint32
	for b.Loop() {
		x ^= tupleHash(k, local, remote)
	}
	_ = x
}
