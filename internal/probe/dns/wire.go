package dns

import (
	"encoding/binary"
	"fmt"

	mdns "github.com/miekg/dns"
)

// malformed says how raw, which miekg/dns unpacked into m, is not a whole
// DNS message, or "" when it is: a header count that differs from the
// records present, a question cut short, or bytes after the last record.
// miekg/dns accepts all three (a header may claim 65535 answers over one).
//
// A server that truncates a UDP answer (TC) may stop at a record boundary
// and keep the counts of the whole answer: with TC a count may exceed
// what is present.
func malformed(raw []byte, m *mdns.Msg) string {
	for i, sec := range []struct {
		n         int
		one, many string
	}{
		{len(m.Question), "question", "questions"},
		{len(m.Answer), "answer", "answers"},
		{len(m.Ns), "authority record", "authority records"},
		{len(m.Extra), "additional record", "additional records"},
	} {
		want := int(binary.BigEndian.Uint16(raw[4+2*i:]))
		if want != sec.n && !(m.Truncated && want > sec.n) {
			return fmt.Sprintf("the header counts %d %s, %d present", want, plural(want, sec.one, sec.many), sec.n)
		}
	}
	// miekg/dns read exactly these records: walk over them to their end.
	off := 12
	for range m.Question {
		if off = skipName(raw, off); off < 0 || off+4 > len(raw) {
			return "the question is cut short"
		}
		off += 4
	}
	for range len(m.Answer) + len(m.Ns) + len(m.Extra) {
		if off = skipName(raw, off); off < 0 || off+10 > len(raw) {
			return "a record is cut short"
		}
		off += 10 + int(binary.BigEndian.Uint16(raw[off+8:]))
	}
	switch n := len(raw) - off; {
	case n < 0:
		return "a record is cut short"
	case n > 0:
		return fmt.Sprintf("%d %s after the last record", n, plural(n, "byte", "bytes"))
	}
	return ""
}

// skipName returns the offset just past the name at off (labels up to the
// root label or a compression pointer), or -1 when it runs out.
func skipName(b []byte, off int) int {
	for off < len(b) {
		switch c := int(b[off]); {
		case c == 0:
			return off + 1
		case c&0xC0 == 0xC0:
			if off+2 > len(b) {
				return -1
			}
			return off + 2
		case c&0xC0 != 0:
			return -1 // label types 0x40 and 0x80: none in use
		default:
			off += 1 + c
		}
	}
	return -1
}
