package dns

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// A record's data is read by its type's layout, field by field, as
// miekg/dns v1 reads it, and printed as miekg prints it (RR.String), with
// its quirks: the summary and the -vv trace must read the same in every
// build (see wire.go).

// fields reads a record's data. Like miekg it stops without error when
// the data ends where a field may (end), leaving the rest zero; a field
// that runs past the data is an error, and so is data left over.
type fields struct {
	msg  []byte // the message, cut at the end of the data
	off  int
	err  error
	stop bool
}

func (f *fields) done() bool { return f.err != nil || f.stop }

func (f *fields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// end is where the data may end: the remaining fields are then zero.
func (f *fields) end() {
	if f.err == nil && f.off == len(f.msg) {
		f.stop = true
	}
}

func (f *fields) take(n int) []byte {
	if f.done() {
		return nil
	}
	if n < 0 || f.off+n > len(f.msg) {
		f.fail(errOverflow)
		return nil
	}
	b := f.msg[f.off : f.off+n]
	f.off += n
	return b
}

func (f *fields) rest() []byte { return f.take(len(f.msg) - f.off) }

func (f *fields) u8() uint64 {
	if b := f.take(1); b != nil {
		return uint64(b[0])
	}
	return 0
}

func (f *fields) u16() uint64 {
	if b := f.take(2); b != nil {
		return uint64(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (f *fields) u32() uint64 {
	if b := f.take(4); b != nil {
		return uint64(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (f *fields) u48() uint64 {
	if b := f.take(6); b != nil {
		return uint64(binary.BigEndian.Uint16(b))<<32 | uint64(binary.BigEndian.Uint32(b[2:]))
	}
	return 0
}

func (f *fields) u64() uint64 {
	if b := f.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (f *fields) name() string {
	if f.done() {
		return ""
	}
	s, _, next, err := readName(f.msg, f.off)
	if err != nil {
		f.fail(err)
		return ""
	}
	f.off = next
	return s
}

// names reads names to the end of the data (HIP's rendezvous servers).
func (f *fields) names() []string {
	var out []string
	for !f.done() && f.off < len(f.msg) {
		out = append(out, f.name())
	}
	return out
}

// str reads a character-string, escaped as miekg escapes it: \" and \\,
// and \DDD for what is not printable ASCII.
func (f *fields) str() string {
	if f.done() {
		return ""
	}
	if f.off+1 > len(f.msg) || f.off+1+int(f.msg[f.off]) > len(f.msg) {
		f.fail(errOverflow)
		return ""
	}
	b := f.take(1 + int(f.msg[f.off]))[1:]
	s := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s = append(s, '\\', c)
		case c < ' ' || c > '~':
			s = appendDDD(s, c)
		default:
			s = append(s, c)
		}
	}
	return string(s)
}

// strs reads character-strings to the end of the data (TXT).
func (f *fields) strs() []string {
	var out []string
	for !f.done() && f.off < len(f.msg) {
		s := f.str()
		if f.err == nil {
			out = append(out, s)
		}
	}
	return out
}

// bitmap reads an NSEC type bitmap to the end of the data: windows in
// increasing order, each of 1 to 32 octets.
func (f *fields) bitmap() []uint16 {
	var types []uint16
	last := -1
	for !f.done() && f.off < len(f.msg) {
		if f.off+2 > len(f.msg) {
			f.fail(errOverflow)
			break
		}
		window, n := int(f.msg[f.off]), int(f.msg[f.off+1])
		switch {
		case window <= last:
			f.fail(errors.New("type bitmap windows out of order"))
		case n == 0 || n > 32:
			f.fail(errors.New("type bitmap window of " + strconv.Itoa(n) + " octets"))
		case f.off+2+n > len(f.msg):
			f.fail(errOverflow)
		}
		if f.err != nil {
			break
		}
		for j, b := range f.take(2 + n)[2:] {
			for bit := range 8 {
				if b&(0x80>>bit) != 0 {
					types = append(types, uint16(window*256+j*8+bit))
				}
			}
		}
		last = window
	}
	return types
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// b64 is standard base64, padded (encoding/base64 builds its tables at
// start-up, on every call).
func b64(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	out := make([]byte, 0, (len(b)+2)/3*4)
	for len(b) > 0 {
		var g [3]byte
		n := copy(g[:], b)
		b = b[n:]
		v := uint(g[0])<<16 | uint(g[1])<<8 | uint(g[2])
		out = append(out, alphabet[v>>18&63], alphabet[v>>12&63], alphabet[v>>6&63], alphabet[v&63])
		for i := n; i < 3; i++ {
			out[len(out)-3+i] = '='
		}
	}
	return string(out)
}

// b32hex is base32 with the extended hex alphabet, unpadded (NSEC3's next
// hashed owner).
func b32hex(b []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint(c)
		for bits += 8; bits >= 5; bits -= 5 {
			out = append(out, alphabet[acc>>(bits-5)&31])
		}
	}
	if bits > 0 {
		out = append(out, alphabet[acc<<(5-bits)&31])
	}
	return string(out)
}

// ip prints an address as net.IP does: nil as <nil>, an IPv4-mapped IPv6
// address as IPv4.
func ip(b []byte) string { return net.IP(b).String() }

func u(v uint64) string { return strconv.FormatUint(v, 10) }

func typeList(ts []uint16) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(" " + typeString(t))
	}
	return b.String()
}

// quoted prints character-strings, each already escaped, as "a" "b".
func quoted(ss ...string) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"` + s + `"`)
	}
	return b.String()
}

// header is the record's owner, TTL, class and type, tab-separated.
func (r *record) header() string {
	s := r.name + "\t" + u(uint64(r.ttl)) + "\t" + classString(r.class) + "\t" + typeString(r.rrtype) + "\t"
	if r.rrtype == typeOPT {
		return ";" + s
	}
	return s
}

// rdata is the record's data in presentation form: its text after the
// header, or all of it for the kinds printed otherwise (OPT, TSIG, ...).
func (r *record) rdata() string {
	s, _ := r.text()
	return strings.TrimPrefix(s, r.header())
}

// text is the record in presentation form, or why its data does not
// parse as its type's.
func (r *record) text() (string, error) {
	f := &fields{msg: r.msg, off: r.data}
	f.end() // no data at all: every field zero
	hdr := r.header()
	var s string
	switch r.rrtype {
	case 1: // A
		if a := f.take(4); a != nil {
			s = ip(a)
		}
	case 28: // AAAA
		if a := f.take(16); a != nil {
			s = ip(a)
			if net.IP(a).To4() != nil {
				s = "::ffff:" + s
			}
		}
	case 2, 3, 4, 5, 7, 8, 9, 12, 23, 39: // NS MD MF CNAME MB MG MR PTR NSAP-PTR DNAME
		s = f.name()
	case 6: // SOA
		ns := f.name()
		f.end()
		mbox := f.name()
		s = ns + " " + mbox
		for range 5 {
			f.end()
			s += " " + u(f.u32())
		}
	case 10: // NULL: no presentation format
		return ";" + hdr + string(f.rest()), f.check()
	case 13, 20: // HINFO ISDN
		a := f.str()
		f.end()
		s = quoted(a, f.str())
	case 14, 17, 58: // MINFO RP TALINK
		a := f.name()
		f.end()
		s = a + " " + f.name()
	case 15, 18, 21, 36, 107: // MX AFSDB RT KX LP
		pref := f.u16()
		f.end()
		s = u(pref) + " " + f.name()
	case 16, 56, 99, 258, 261: // TXT NINFO SPF AVC RESINFO
		s = quoted(f.strs()...)
	case 19: // X25
		s = f.str()
	case 24, 46: // SIG RRSIG
		covered := f.u16()
		f.end()
		alg := f.u8()
		f.end()
		labels := f.u8()
		f.end()
		ttl := f.u32()
		f.end()
		expiration := f.u32()
		f.end()
		inception := f.u32()
		f.end()
		tag := f.u16()
		f.end()
		signer := f.name()
		f.end()
		s = typeString(uint16(covered)) + " " + u(alg) + " " + u(labels) + " " + u(ttl) + " " + sigTime(uint32(expiration)) +
			" " + sigTime(uint32(inception)) + " " + u(tag) + " " + signer + " " + b64(f.rest())
	case 25, 48, 57, 60: // KEY DNSKEY RKEY CDNSKEY
		flags := f.u16()
		f.end()
		proto := f.u8()
		f.end()
		alg := f.u8()
		f.end()
		s = u(flags) + " " + u(proto) + " " + u(alg) + " " + b64(f.rest())
	case 26: // PX
		pref := f.u16()
		f.end()
		a := f.name()
		f.end()
		s = u(pref) + " " + a + " " + f.name()
	case 27: // GPOS
		a := f.str()
		f.end()
		b := f.str()
		f.end()
		s = a + " " + b + " " + f.str()
	case 29: // LOC
		s = f.loc()
	case 30, 47: // NXT NSEC
		next := f.name()
		f.end()
		s = next + typeList(f.bitmap())
	case 31, 32: // EID NIMLOC
		s = upperHex(f.rest())
	case 33: // SRV
		var n [3]uint64
		for i := range n {
			n[i] = f.u16()
			f.end()
		}
		s = u(n[0]) + " " + u(n[1]) + " " + u(n[2]) + " " + f.name()
	case 35: // NAPTR
		order := f.u16()
		f.end()
		pref := f.u16()
		f.end()
		var q [3]string
		for i := range q {
			q[i] = f.str()
			f.end()
		}
		s = u(order) + " " + u(pref) + " " + quoted(q[:]...) + " " + f.name()
	case 37: // CERT
		ct := f.u16()
		f.end()
		tag := f.u16()
		f.end()
		alg := f.u8()
		f.end()
		s = mnemonic(certTypeNames[:], ct) + " " + u(tag) + " " + mnemonic(algorithmNames[:], alg) + " " + b64(f.rest())
	case 41: // OPT
		return f.opt(r), f.check()
	case 42: // APL
		s = f.apl()
	case 43, 59, 32768, 32769: // DS CDS TA DLV
		tag := f.u16()
		f.end()
		alg := f.u8()
		f.end()
		dt := f.u8()
		f.end()
		s = u(tag) + " " + u(alg) + " " + u(dt) + " " + upperHex(f.rest())
	case 44: // SSHFP
		alg := f.u8()
		f.end()
		t := f.u8()
		f.end()
		s = u(alg) + " " + u(t) + " " + upperHex(f.rest())
	case 45: // IPSECKEY
		prec := f.u8()
		f.end()
		gt := f.u8()
		f.end()
		alg := f.u8()
		f.end()
		gw := f.gateway(gt, gt)
		f.end()
		s = u(prec) + " " + u(gt) + " " + u(alg) + " " + gw + " " + b64(f.rest())
	case 49, 61: // DHCID OPENPGPKEY
		s = b64(f.rest())
	case 50: // NSEC3
		hash := f.u8()
		f.end()
		flags := f.u8()
		f.end()
		iter := f.u16()
		f.end()
		saltLen := f.u8()
		f.end()
		salt := f.take(int(saltLen))
		hashLen := f.u8()
		f.end()
		next := b32hex(f.take(int(hashLen)))
		s = u(hash) + " " + u(flags) + " " + u(iter) + " " + saltString(salt) + " " + next + typeList(f.bitmap())
	case 51: // NSEC3PARAM
		hash := f.u8()
		f.end()
		flags := f.u8()
		f.end()
		iter := f.u16()
		f.end()
		saltLen := f.u8()
		f.end()
		s = u(hash) + " " + u(flags) + " " + u(iter) + " " + saltString(f.take(int(saltLen)))
	case 52, 53, 63: // TLSA SMIMEA ZONEMD
		var a uint64
		if r.rrtype == 63 {
			a = f.u32()
		} else {
			a = f.u8()
		}
		f.end()
		b := f.u8()
		f.end()
		c := f.u8()
		f.end()
		data := hex.EncodeToString(f.rest())
		if r.rrtype == 53 {
			data = strings.Join(splitN(data, 1024), " ")
		}
		s = u(a) + " " + u(b) + " " + u(c) + " " + data
	case 55: // HIP
		hitLen := f.u8()
		f.end()
		alg := f.u8()
		f.end()
		keyLen := f.u16()
		f.end()
		hit := hex.EncodeToString(f.take(int(hitLen)))
		key := b64(f.take(int(keyLen)))
		s = u(alg) + " " + hit + " " + key
		for _, n := range f.names() {
			s += " " + n
		}
	case 62: // CSYNC
		serial := f.u32()
		f.end()
		flags := f.u16()
		f.end()
		s = u(serial) + " " + u(flags) + typeList(f.bitmap())
	case 64, 65: // SVCB HTTPS
		prio := f.u16()
		f.end()
		target := f.name()
		f.end()
		s = u(prio) + " " + target + f.svcb()
	case 100: // UINFO
		s = quoted(f.str())
	case 101, 102: // UID GID
		s = u(f.u32())
	case 104, 106: // NID L64
		pref := f.u16()
		f.end()
		node := fmt.Sprintf("%0.16x", f.u64())
		if r.rrtype == 106 {
			node = strings.ToUpper(node)
		}
		s = u(pref) + " " + node[0:4] + ":" + node[4:8] + ":" + node[8:12] + ":" + node[12:16]
	case 105: // L32
		pref := f.u16()
		f.end()
		s = u(pref)
		if a := f.take(4); a != nil {
			s += " " + ip(a)
		}
	case 108: // EUI48
		s = eui(fmt.Sprintf("%12.12x", f.u48()))
	case 109: // EUI64
		s = eui(fmt.Sprintf("%16.16x", f.u64()))
	case 128, 255: // NXNAME ANY: no data
	case 249: // TKEY: no presentation format
		alg := f.name()
		f.end()
		inception := f.u32()
		f.end()
		expiration := f.u32()
		f.end()
		mode := f.u16()
		f.end()
		e := f.u16()
		f.end()
		keyLen := f.u16()
		f.end()
		key := hex.EncodeToString(f.take(int(keyLen)))
		otherLen := f.u16()
		f.end()
		other := hex.EncodeToString(f.take(int(otherLen)))
		return ";" + hdr + " " + alg + " " + sigTime(uint32(inception)) + " " + sigTime(uint32(expiration)) +
			" " + u(mode) + " " + u(e) + " " + u(keyLen) + " " + key + " " + u(otherLen) + " " + other, f.check()
	case 250: // TSIG: no presentation format
		alg := f.name()
		f.end()
		signed := f.u48()
		f.end()
		fudge := f.u16()
		f.end()
		macLen := f.u16()
		f.end()
		mac := upperHex(f.take(int(macLen)))
		id := f.u16()
		f.end()
		e := f.u16()
		f.end()
		otherLen := f.u16()
		f.end()
		other := hex.EncodeToString(f.take(int(otherLen)))
		return "\n;; TSIG PSEUDOSECTION:\n; " + hdr + " " + alg + " " + time.Unix(int64(signed), 0).UTC().Format(timeLayout) +
			" " + u(fudge) + " " + u(macLen) + " " + mac + " " + u(id) + " " + u(e) + " " + u(otherLen) + " " + other, f.check()
	case 256: // URI
		prio := f.u16()
		f.end()
		weight := f.u16()
		f.end()
		s = u(prio) + " " + u(weight) + " " + octets(f.rest())
	case 257: // CAA
		flag := f.u8()
		f.end()
		tag := f.str()
		f.end()
		s = u(flag) + " " + tag + " " + octets(f.rest())
	case 260: // AMTRELAY
		prec := f.u8()
		f.end()
		gt := f.u8()
		f.end()
		f.end()
		// The gateway is read by the whole octet, the discovery bit
		// with it, and printed by the type alone.
		gw := f.gateway(gt, gt&0x7f)
		d := "0"
		if gt&0x80 != 0 {
			d = "1"
		}
		s = u(prec) + " " + d + " " + u(gt&0x7f) + " " + gw
	default: // a type miekg does not know: RFC 3597's generic form
		data := hex.EncodeToString(f.rest())
		return r.name + "\t" + u(uint64(r.ttl)) + "\tCLASS" + u(uint64(r.class)) + "\tTYPE" + u(uint64(r.rrtype)) +
			"\t\\# " + strconv.Itoa(len(data)/2) + " " + data, f.check()
	}
	return hdr + s, f.check()
}

// check is the error, if any, once every field was read: data left over
// is one.
func (f *fields) check() error {
	if f.err == nil && f.off != len(f.msg) {
		return errors.New("data left after its last field")
	}
	return f.err
}

// gateway reads the gateway of IPSECKEY and AMTRELAY by its type as
// read, and prints it by its type as printed: an address, a name, or "."
// for none.
func (f *fields) gateway(read, printed uint64) string {
	var addr []byte
	var host string
	switch read {
	case 1:
		addr = f.take(4)
	case 2:
		addr = f.take(16)
	case 3:
		host = f.name()
	}
	switch printed {
	case 1, 2:
		return ip(addr)
	case 3:
		return host
	}
	return "."
}

func mnemonic(table []named, v uint64) string {
	if s, ok := lookup(table, uint16(v)); ok && v <= 0xFFFF {
		return s
	}
	return u(v)
}

const timeLayout = "20060102150405"

// sigTime prints a signature's inception or expiration as YYYYMMDDHHMMSS,
// in serial arithmetic (RFC 1982) around now.
func sigTime(t uint32) string {
	const year68 = 1 << 31
	mod := (int64(t)-time.Now().Unix())/year68 - 1
	if mod < 0 {
		mod = 0
	}
	return time.Unix(int64(t)-mod*year68, 0).UTC().Format(timeLayout)
}

func saltString(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return upperHex(b)
}

func eui(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// splitN cuts s into pieces of n, and an empty one after a last full one.
func splitN(s string, n int) []string {
	if len(s) < n {
		return []string{s}
	}
	var out []string
	for p := 0; ; p += n {
		if p+n > len(s) {
			return append(out, s[p:])
		}
		out = append(out, s[p:p+n])
	}
}

// octets prints raw octets (CAA's value, URI's target) as a quoted
// string. Like miekg it reads backslash escapes in them (\DDD, \X) as
// though they were presentation form, and keeps \. as it is.
func octets(s []byte) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		if i+1 < len(s) && s[i] == '\\' && s[i+1] == '.' {
			b = append(b, s[i:i+2]...)
			i += 2
			continue
		}
		c, n := s[i], 1
		if c == '\\' {
			switch rest := s[i+1:]; {
			case len(rest) == 0:
				n = 0 // a backslash at the end: dropped
			case len(rest) >= 3 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]):
				c, n = (rest[0]-'0')*100+(rest[1]-'0')*10+(rest[2]-'0'), 4
			default:
				c, n = rest[0], 2
			}
		}
		if n == 0 {
			break
		}
		b = appendTextByte(b, c)
		i += n
	}
	return string(append(b, '"'))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendTextByte appends a byte of a quoted string in presentation form.
func appendTextByte(s []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(s, '\\', c)
	case c < ' ' || c > '~':
		return appendDDD(s, c)
	}
	return append(s, c)
}

// paramText prints an SVCB parameter's value (dohpath, keyNNN).
func paramText(v []byte) string {
	b := make([]byte, 0, len(v))
	for _, c := range v {
		switch {
		case c < ' ' || c > '~':
			b = appendDDD(b, c)
		case c == '"' || c == ';' || c == ' ' || c == '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// loc reads and prints a LOC record (RFC 1876).
func (f *fields) loc() string {
	var size [4]uint64 // version, size, horizontal and vertical precision
	for i := range size {
		size[i] = f.u8()
		f.end()
	}
	lat := uint32(f.u32())
	f.end()
	lon := uint32(f.u32())
	f.end()
	alt := uint32(f.u32())
	const equator, hours, degrees = 1 << 31, 60 * 1000, 60 * 60 * 1000
	angle := func(v uint32, pos, neg string) string {
		dir := pos
		if v > equator {
			v -= equator
		} else {
			dir, v = neg, equator-v
		}
		return fmt.Sprintf("%02d %02d %0.3f %s ", v/degrees, v%degrees/hours, float64(v%degrees%hours)/1000, dir)
	}
	s := angle(lat, "N", "S") + angle(lon, "E", "W")
	m := float64(alt)/100 - 100000
	if alt%100 != 0 {
		s += fmt.Sprintf("%.2fm ", m)
	} else {
		s += fmt.Sprintf("%.0fm ", m)
	}
	return s + cmToM(uint8(size[1])) + "m " + cmToM(uint8(size[2])) + "m " + cmToM(uint8(size[3])) + "m"
}

// cmToM prints a LOC size (mantissa and exponent of centimetres) in
// metres.
func cmToM(x uint8) string {
	m, e := x>>4, x&0x0f
	if e < 2 {
		if e == 1 {
			m *= 10
		}
		return fmt.Sprintf("0.%02d", m)
	}
	return strconv.Itoa(int(m)) + strings.Repeat("0", int(e)-2)
}

// apl reads and prints an APL record's prefixes (RFC 3123).
func (f *fields) apl() string {
	var out []string
	for !f.done() && f.off < len(f.msg) {
		family := f.u16()
		prefix := f.u8()
		n := f.u8()
		if f.err != nil {
			break
		}
		size := 0
		switch family {
		case 1:
			size = 4
		case 2:
			size = 16
		default:
			f.fail(errors.New("APL address family " + u(family)))
			return ""
		}
		afd := int(n & 0x7f)
		switch {
		case int(prefix) > 8*size:
			f.fail(errors.New("APL prefix too long"))
		case afd > size:
			f.fail(errors.New("APL address too long"))
		}
		addr := make([]byte, size)
		b := f.take(afd)
		if f.err != nil {
			return ""
		}
		copy(addr, b)
		if afd > 0 && b[afd-1] == 0 {
			f.fail(errors.New("APL address with trailing zero octets"))
			return ""
		}
		s := ""
		if n&0x80 != 0 {
			s = "!"
		}
		if size == 4 {
			s += "1:" + ip(addr)
		} else {
			s += "2:"
			if net.IP(addr).To4() != nil {
				s += "::ffff:"
			}
			s += ip(addr)
		}
		out = append(out, s+"/"+u(prefix))
	}
	return strings.Join(out, " ")
}

// svcb reads and prints SVCB and HTTPS parameters (RFC 9460), keys in
// strictly increasing order.
func (f *fields) svcb() string {
	var b strings.Builder
	last := -1
	for !f.done() && f.off < len(f.msg) {
		if f.off+4 > len(f.msg) {
			f.fail(errOverflow)
			break
		}
		key := int(binary.BigEndian.Uint16(f.msg[f.off:]))
		n := int(binary.BigEndian.Uint16(f.msg[f.off+2:]))
		if f.off+4+n > len(f.msg) {
			f.fail(errOverflow)
			break
		}
		if key == 65535 {
			f.fail(errors.New("SVCB key 65535"))
			break
		}
		v := f.take(4 + n)[4:]
		text, err := svcbValue(key, v)
		if err != nil {
			f.fail(err)
			break
		}
		if key <= last {
			f.fail(errors.New("SVCB keys out of order"))
			break
		}
		last = key
		b.WriteString(" " + svcbKeyString(uint16(key)) + `="` + text + `"`)
	}
	return b.String()
}

func svcbValue(key int, v []byte) (string, error) {
	bad := errors.New("SVCB " + svcbKeyString(uint16(key)) + " of " + strconv.Itoa(len(v)) + " octets")
	var out []string
	switch key {
	case 0: // mandatory
		if len(v)%2 != 0 {
			return "", bad
		}
		for i := 0; i < len(v); i += 2 {
			out = append(out, svcbKeyString(binary.BigEndian.Uint16(v[i:])))
		}
	case 1: // alpn
		for i := 0; i < len(v); {
			n := int(v[i])
			i++
			if i+n > len(v) {
				return "", bad
			}
			var b []byte
			for _, c := range v[i : i+n] {
				switch {
				case c < ' ' || c > '~':
					b = appendDDD(b, c)
				case c == '"' || c == ';' || c == ' ':
					b = append(b, '\\', c)
				case c == ',':
					b = append(b, `\\\044`...)
				case c == '\\':
					b = append(b, `\\\092`...)
				default:
					b = append(b, c)
				}
			}
			out = append(out, string(b))
			i += n
		}
	case 2, 8: // no-default-alpn, ohttp: no value
		if len(v) != 0 {
			return "", bad
		}
	case 3: // port
		if len(v) != 2 {
			return "", bad
		}
		return u(uint64(binary.BigEndian.Uint16(v))), nil
	case 4, 6: // ipv4hint, ipv6hint
		size := 4
		if key == 6 {
			size = 16
		}
		if len(v) == 0 || len(v)%size != 0 {
			return "", bad
		}
		for i := 0; i < len(v); i += size {
			a := v[i : i+size]
			if size == 16 && net.IP(a).To4() != nil {
				return "", errors.New("SVCB ipv6hint holds an IPv4 address")
			}
			out = append(out, ip(a))
		}
	case 5: // ech
		return b64(v), nil
	default: // dohpath, and keys without a name
		return paramText(v), nil
	}
	return strings.Join(out, ","), nil
}

// opt reads and prints an OPT record as miekg does: a pseudo-section
// with each option it knows.
func (f *fields) opt(r *record) string {
	ttl := r.ttl
	s := "\n;; OPT PSEUDOSECTION:\n; EDNS: version " + u(uint64(ttl>>16&0xFF)) + "; flags:"
	if ttl&flagDO != 0 {
		s += " do"
	}
	if ttl&(1<<14) != 0 {
		s += " co"
	}
	s += "; "
	if z := ttl & 0x3FFF; z != 0 {
		s += fmt.Sprintf("MBZ: 0x%04x, ", z)
	}
	s += "udp: " + u(uint64(r.class))
	for !f.done() && f.off < len(f.msg) {
		if f.off+4 > len(f.msg) {
			f.fail(errOverflow)
			break
		}
		code := binary.BigEndian.Uint16(f.msg[f.off:])
		n := int(binary.BigEndian.Uint16(f.msg[f.off+2:]))
		if f.off+4+n > len(f.msg) {
			f.fail(errOverflow)
			break
		}
		text, err := option(code, f.take(4 + n)[4:])
		if err != nil {
			f.fail(err)
			break
		}
		s += text
	}
	return s
}

// option reads one EDNS option and prints its line of the pseudo-section.
func option(code uint16, b []byte) (string, error) {
	bad := errors.New("EDNS option " + u(uint64(code)) + " of " + strconv.Itoa(len(b)) + " octets")
	switch code {
	case 1: // LLQ
		if len(b) < 18 {
			return "", bad
		}
		return "\n; LONG LIVED QUERIES: " + u(uint64(binary.BigEndian.Uint16(b))) + " " + u(uint64(binary.BigEndian.Uint16(b[2:]))) +
			" " + u(uint64(binary.BigEndian.Uint16(b[4:]))) + " " + u(binary.BigEndian.Uint64(b[6:])) + " " + u(uint64(binary.BigEndian.Uint32(b[14:]))), nil
	case 2: // update lease
		if len(b) != 4 && len(b) != 8 {
			return "", bad
		}
		var key uint64
		if len(b) == 8 {
			key = uint64(binary.BigEndian.Uint32(b[4:]))
		}
		return "\n; UPDATE LEASE: " + u(uint64(binary.BigEndian.Uint32(b))) + " " + u(key), nil
	case 3: // NSID, in hex and each octet as a character
		s := "\n; NSID: " + hex.EncodeToString(b) + "  "
		for _, c := range b {
			s += "(" + string(rune(c)) + ")"
		}
		return s, nil
	case 4: // ESU
		return "\n; ESU: " + string(b), nil
	case 5, 6, 7: // DAU, DHU, N3U
		table, what := hashNames[:], [...]string{5: "DNSSEC ALGORITHM", 6: "DS HASH", 7: "NSEC3 HASH"}[code]
		if code == 5 {
			table = algorithmNames[:]
		}
		s := "\n; " + what + " UNDERSTOOD: "
		for _, c := range b {
			s += " " + mnemonic(table, uint64(c))
		}
		return s, nil
	case 8: // client subnet
		if len(b) < 4 {
			return "", bad
		}
		family, mask, scope := binary.BigEndian.Uint16(b), b[2], b[3]
		var addr net.IP
		switch {
		case family == 0 && mask == 0:
			addr = net.IPv4(0, 0, 0, 0)
		case family == 1 && mask <= 32 && scope <= 32:
			a := make(net.IP, 4)
			copy(a, b[4:])
			addr = a.To16()
		case family == 2 && mask <= 128 && scope <= 128:
			addr = make(net.IP, 16)
			copy(addr, b[4:])
		default:
			return "", errors.New("EDNS client subnet: family " + u(uint64(family)) + ", prefix " + u(uint64(mask)) + ", scope " + u(uint64(scope)))
		}
		a := addr.String()
		if addr.To4() == nil {
			a = "[" + a + "]"
		}
		return "\n; SUBNET: " + a + "/" + u(uint64(mask)) + "/" + u(uint64(scope)), nil
	case 9: // expire
		switch {
		case len(b) == 0:
			return "\n; EXPIRE: ", nil
		case len(b) < 4:
			return "", bad
		}
		return "\n; EXPIRE: " + u(uint64(binary.BigEndian.Uint32(b))), nil
	case 10: // cookie
		return "\n; COOKIE: " + hex.EncodeToString(b), nil
	case 11: // TCP keepalive, in units of 100 ms (as a 16-bit product)
		var t uint16
		switch len(b) {
		case 0:
		case 2:
			t = binary.BigEndian.Uint16(b)
		default:
			return "", bad
		}
		if t == 0 {
			return "\n; KEEPALIVE: use tcp keep-alive, timeout omitted", nil
		}
		return "\n; KEEPALIVE: use tcp keep-alive, timeout " + u(uint64(t*100)) + "ms", nil
	case 12: // padding
		return "\n; PADDING: " + upperHex(b), nil
	case 15: // extended DNS error
		if len(b) < 2 {
			return "", bad
		}
		info := binary.BigEndian.Uint16(b)
		s := u(uint64(info))
		if int(info) < len(edeNames) {
			s += " (" + edeNames[info] + ")"
		}
		return "\n; EDE: " + s + ": (" + string(b[2:]) + ")", nil
	case 18: // report channel
		name, _, _, err := readName(b, 0)
		if err != nil {
			return "", fmt.Errorf("EDNS report channel: %w", err)
		}
		return "\n; REPORT-CHANNEL: " + name, nil
	case 19: // zone version
		if len(b) < 2 {
			return "", bad
		}
		return "\n; ZONEVERSION: " + string(b[2:]), nil
	}
	return "\n; LOCAL OPT: " + u(uint64(code)) + ":0x" + hex.EncodeToString(b), nil
}

// soaSerial is the serial of the last SOA record in rrs, as
// blackbox_exporter's probe_dns_serial reads it.
func soaSerial(rrs []record) (serial uint32, ok bool) {
	for i := range rrs {
		if rrs[i].rrtype != 6 {
			continue
		}
		f := &fields{msg: rrs[i].msg, off: rrs[i].data}
		f.name() // MNAME
		f.name() // RNAME
		if v := f.u32(); f.err == nil {
			serial, ok = uint32(v), true
		}
	}
	return serial, ok
}
