package handshake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// det is deterministic test bytes: SHA-256 of "seed-0", "seed-1", ...
func det(seed string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", seed, i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestChaCha20Poly1305: RFC 8439 2.8.2, then every length around a block
// edge, the expected output made by another implementation (Python's
// cryptography package, OpenSSL underneath) from the same det() inputs.
func TestChaCha20Poly1305(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = 0x80 + byte(i)
	}
	tests := []struct {
		name                string
		key, nonce, ad, msg []byte
		sealed              string
	}{
		{"rfc8439 2.8.2", key, unhex("070000004041424344454647"), unhex("50515253c0c1c2c3c4c5c6c7"),
			[]byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
			"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b61161ae10b594f09e26a7e902ecbd0600691"},
	}
	for _, v := range []struct {
		n, ad  int
		sealed string
	}{
		{0, 0, "5711845058f8ac45e34a23293d91bb5b"},
		{1, 0, "5b2d9e9d4a937b4e7aba8d19ddc246cd23"},
		{15, 5, "d671cc42946cc7e0973da38c653b09f28ac76b44b83173f93c79530c4f691a"},
		{16, 13, "78fd80d04cfc0bed5dd633bc2b7e234f95e0f28e706ebf43ca203af30c71f60a"},
		{17, 16, "e7bac28d3dbf4c088552bbe3a904bc53a24eb5702c0d7704d8e84092a7e3d0d7b8"},
		{63, 0, "9b85f72b80308e9fd139d0fdcaf7b330fafbf5cb25ccaf00cd727448fcce44e8823cc49242b9e4d19f0a2efdefc9337c9ae2cbb39b8a0dbcf3ea3ac88ad829820658fbd4c7d03571e40bddc3c7e5f4"},
		{64, 17, "36c8842a47890cf9cc2a54b81697c164dc06e233e56425e7a1cfbbcbd172985417d201a22deed38d082d35bf52d42e90a01376468d796f76ab4cd0c285a140c38f26e3045bbb054fdc03e30bdbf1df20"},
		{65, 1, "b0ad689870466be920948b84fa42a4b103136a748131df6431dfd7d10462111976e3d7c5b7085553a0e2b9046f3ee92bfe60f7f87a9c3bd0a6d04dac1f0cd257f4d44a91e91c078e774c3f5d5bbaa06356"},
		{300, 32, "0fec665cfd84b1fc062b2d5cd7ca59e72239c2ebfa9324365699246bea3d41da66cae0d537b13e56ca427ddff1bb2c7845a6ca813dd57b6af8ffc4582932a0dc14648b1ba32d4e0fb45f6027e7eaed5c79494a037471c6f3ded29a0544af069d1759c012769a259c21522c10ec9510ecf4f56605f738584ad5013ebc53bdc687d6b150dd70b26f91e6221d70f71dbcc6f3fda750ece63d48bbb5a7dd672a17c1426366346de1de16a1d4f858e9ed032edabf247ff3d4f14c97ee285535de8047ac9ef1a5647b64ff47078504a8417e4dc7e9ab834f24a851d4db79142a0889e6ae6b33cec5a17d4fe46bf27fcb01f690b34f90ceb715d51b62576971331d717eb33772943b1997b82780bb128d14b3b9e80ab72205dcb51da41c47ed1df782544ce0bc8977b062576a9710283d29c3007feae8d004b83c38c410341c"},
	} {
		tests = append(tests, struct {
			name                string
			key, nonce, ad, msg []byte
			sealed              string
		}{fmt.Sprintf("%d bytes, %d of ad", v.n, v.ad), det(fmt.Sprint("k", v.n), 32), det(fmt.Sprint("n", v.n), 12),
			det(fmt.Sprint("a", v.n), v.ad), det(fmt.Sprint("p", v.n), v.n), v.sealed})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := newChaCha20Poly1305(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			sealed := a.Seal(nil, tt.nonce, tt.msg, tt.ad)
			if got := hex.EncodeToString(sealed); got != tt.sealed {
				t.Fatalf("Seal\n got %s\nwant %s", got, tt.sealed)
			}
			opened, err := a.Open(nil, tt.nonce, sealed, tt.ad)
			if err != nil || !bytes.Equal(opened, tt.msg) {
				t.Fatalf("Open: %v, %x", err, opened)
			}
			for _, i := range []int{0, len(sealed) - 1} {
				bad := bytes.Clone(sealed)
				bad[i] ^= 1
				if _, err := a.Open(nil, tt.nonce, bad, tt.ad); err == nil {
					t.Errorf("Open took a record with byte %d flipped", i)
				}
			}
		})
	}
}

// TestPoly1305 is RFC 8439 2.5.2.
func TestPoly1305(t *testing.T) {
	var p poly1305
	p.init(unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"))
	p.update([]byte("Cryptographic Forum Research Group"), false)
	var tag [16]byte
	p.sum(&tag)
	if got := hex.EncodeToString(tag[:]); got != "a8061dc1305136c6c22b8baf0c0127a9" {
		t.Errorf("tag %s", got)
	}
}
