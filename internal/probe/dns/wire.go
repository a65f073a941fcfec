package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The probe reads replies itself: github.com/miekg/dns links crypto (TLS,
// x509, every hash), whose start-up a plain check would pay on every call.
// It reads them as miekg/dns v1 does (Msg.Unpack), field by field: lbcheck
// reads the same reply with miekg for --dnssec, --expect compares records
// as miekg printed them, and both builds must take and refuse the same
// messages and print the same summary. FuzzUnpackAsMiekg holds the two
// together.
//
// What miekg/dns does, and so this: a message may end early (after the
// header, or where a section ends) whatever the header counts say, and the
// counts are then taken as what was there; a record's data may end after
// any field but a few, the rest then being zero; a record whose data does
// not parse as its type's is an error, and so is the whole message. What
// it lets pass (counts that lie, bytes after the last record) the probe
// judges afterwards: see malformed.

// message is a reply as read.
type message struct {
	raw      []byte
	id       uint16
	bits     uint16
	rcode    int // the header's, with the extended bits of the last OPT record
	question []question
	sections [3][]record // answer, authority, additional
	opt      *record     // the last OPT record of the additional section
}

const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagAD = 1 << 5
	flagCD = 1 << 4
	// flagDO is the DNSSEC OK bit in an OPT record's TTL.
	flagDO = 1 << 15
)

func (m *message) response() bool  { return m.bits&flagQR != 0 }
func (m *message) truncated() bool { return m.bits&flagTC != 0 }
func (m *message) opcode() int     { return int(m.bits>>11) & 0xF }
func (m *message) answer() []record {
	return m.sections[0]
}

// count is the header's count of section i: 0 question, 1 answer, ...
func (m *message) count(i int) int { return int(binary.BigEndian.Uint16(m.raw[4+2*i:])) }

// present is how many of section i's entries were read.
func (m *message) present(i int) int {
	if i == 0 {
		return len(m.question)
	}
	return len(m.sections[i-1])
}

type question struct {
	name          string // presentation form
	wire          []byte // the name's labels, pointers followed, and the root label
	qtype, qclass uint16
}

// record is one resource record; its data is read again, from msg, when
// printed.
type record struct {
	msg    []byte // the message, cut at the end of the record's data
	data   int    // where its data begins in msg
	name   string // owner, presentation form
	rrtype uint16
	class  uint16
	ttl    uint32
}

var errShort = errors.New("shorter than a DNS header")

// unpack reads raw as a DNS message.
func unpack(raw []byte) (*message, error) {
	if len(raw) < 12 {
		return nil, errShort
	}
	m := &message{raw: raw, id: binary.BigEndian.Uint16(raw), bits: binary.BigEndian.Uint16(raw[2:])}
	m.rcode = int(m.bits & 0xF)
	off := 12
	if off == len(raw) {
		return m, nil // the header alone: no sections, whatever it counts
	}
	for range m.count(0) {
		q, next, err := readQuestion(raw, off)
		if err != nil {
			return nil, fmt.Errorf("question: %w", err)
		}
		m.question = append(m.question, q)
		off = next
	}
	for i := range m.sections {
		// Not preallocated: the counts are the sender's word.
		for range m.count(i + 1) {
			if off == len(raw) {
				break // the message ended before the count did
			}
			rr, next, err := readRecord(raw, off)
			if err != nil {
				return nil, fmt.Errorf("%s record %d: %w", sectionNames[i], len(m.sections[i])+1, err)
			}
			m.sections[i] = append(m.sections[i], rr)
			off = next
		}
	}
	add := m.sections[2]
	for i := len(add) - 1; i >= 0; i-- {
		if add[i].rrtype == typeOPT {
			m.opt = &add[i]
			m.rcode |= int(add[i].ttl>>24) << 4
			break
		}
	}
	return m, nil
}

var sectionNames = [...]string{"answer", "authority", "additional"}

// readQuestion reads the question at off. At the end of the message its
// type and class may be missing: zero.
func readQuestion(msg []byte, off int) (q question, next int, err error) {
	if q.name, q.wire, off, err = readName(msg, off); err != nil {
		return q, 0, err
	}
	for _, f := range []*uint16{&q.qtype, &q.qclass} {
		if off == len(msg) {
			return q, off, nil
		}
		if off+2 > len(msg) {
			return q, 0, errOverflow
		}
		*f = binary.BigEndian.Uint16(msg[off:])
		off += 2
	}
	return q, off, nil
}

// readRecord reads the record at off, which is not the message's end.
func readRecord(msg []byte, off int) (rr record, next int, err error) {
	if rr.name, _, off, err = readName(msg, off); err != nil {
		return rr, 0, err
	}
	if off+10 > len(msg) {
		return rr, 0, errOverflow
	}
	rr.rrtype = binary.BigEndian.Uint16(msg[off:])
	rr.class = binary.BigEndian.Uint16(msg[off+2:])
	rr.ttl = binary.BigEndian.Uint32(msg[off+4:])
	end := off + 10 + int(binary.BigEndian.Uint16(msg[off+8:]))
	if end > len(msg) {
		return rr, 0, errors.New("its data runs past the end of the message")
	}
	rr.msg, rr.data = msg[:end], off+10
	// Data of no length is a record without data (dynamic update), which
	// miekg takes without looking at its type.
	if rr.data < end {
		if _, err := rr.text(); err != nil {
			return rr, 0, fmt.Errorf("%s: %w", typeString(rr.rrtype), err)
		}
	}
	return rr, end, nil
}

var (
	errOverflow = errors.New("cut short")
	errLongName = errors.New("a name longer than 255 octets")
)

// maxPointers bounds the compression pointers followed in one name, which
// ends loops: miekg's bound.
const maxPointers = (255+1)/2 - 2

// readName reads the name at off in its presentation form (special
// characters escaped with a backslash, unprintable ones as \DDD) and its
// wire form (labels, pointers followed), and returns the offset past it.
// Pointers may point anywhere in msg.
func readName(msg []byte, off int) (name string, wire []byte, next int, err error) {
	s := make([]byte, 0, 32)
	wire = make([]byte, 0, 32)
	budget := 255
	pointers := 0
	next = -1
	for {
		if off >= len(msg) {
			return "", nil, 0, errOverflow
		}
		c := int(msg[off])
		off++
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off
				}
				wire = append(wire, 0)
				if len(s) == 0 {
					return ".", wire, next, nil
				}
				return string(s), wire, next, nil
			}
			if off+c > len(msg) {
				return "", nil, 0, errOverflow
			}
			if budget -= c + 1; budget <= 0 {
				return "", nil, 0, errLongName
			}
			label := msg[off : off+c]
			wire = append(append(wire, byte(c)), label...)
			for _, b := range label {
				s = appendNameByte(s, b)
			}
			s = append(s, '.')
			off += c
		case 0xC0:
			if off >= len(msg) {
				return "", nil, 0, errOverflow
			}
			if next < 0 {
				next = off + 1
			}
			if pointers++; pointers > maxPointers {
				return "", nil, 0, errors.New("too many compression pointers")
			}
			off = (c&0x3F)<<8 | int(msg[off])
		default:
			return "", nil, 0, errors.New("a label of a reserved type")
		}
	}
}

// appendNameByte appends a byte of a label in presentation form.
func appendNameByte(s []byte, b byte) []byte {
	switch {
	case b == '.' || b == ' ' || b == '\'' || b == '@' || b == ';' || b == '(' || b == ')' || b == '"' || b == '\\':
		return append(s, '\\', b)
	case b < ' ' || b > '~':
		return appendDDD(s, b)
	}
	return append(s, b)
}

// appendDDD appends b as \DDD, three decimal digits.
func appendDDD(s []byte, b byte) []byte {
	return append(s, '\\', '0'+b/100, '0'+b/10%10, '0'+b%10)
}

// malformed says how the message, which unpack took, is not a whole DNS
// message, or "" when it is: a header count that differs from the entries
// present, a question cut short, or bytes after the last record. miekg/dns
// takes all three (a header may claim 65535 answers over one), and so
// does unpack; a reply of ours must be whole to be judged.
//
// A server that truncates a UDP answer (TC) may stop at a record boundary
// and keep the counts of the whole answer: with TC a count may exceed
// what is present.
func (m *message) malformed() string {
	if len(m.raw) == 12 {
		return "" // the header alone, as unpack takes it: judged by its rcode
	}
	for i, sec := range [...]struct{ one, many string }{
		{"question", "questions"},
		{"answer", "answers"},
		{"authority record", "authority records"},
		{"additional record", "additional records"},
	} {
		want, n := m.count(i), m.present(i)
		if want != n && !(m.truncated() && want > n) {
			return fmt.Sprintf("the header counts %d %s, %d present", want, plural(want, sec.one, sec.many), n)
		}
	}
	// unpack read exactly these entries: walk over them to their end.
	raw, off := m.raw, 12
	for range m.question {
		if off = skipName(raw, off); off < 0 || off+4 > len(raw) {
			return "the question is cut short"
		}
		off += 4
	}
	for range m.present(1) + m.present(2) + m.present(3) {
		if off = skipName(raw, off); off < 0 || off+10 > len(raw) {
			return "a record is cut short"
		}
		off += 10 + int(binary.BigEndian.Uint16(raw[off+8:]))
	}
	switch n := len(raw) - off; {
	case n < 0:
		return "a record is cut short"
	case n > 0:
		return strconv.Itoa(n) + " " + plural(n, "byte", "bytes") + " after the last record"
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
