package handshake

import (
	"errors"
	"fmt"
	"io"
)

// Record layer limits and types (RFC 5246 6.2, RFC 8446 5).
const (
	recordHeaderLen = 5
	// maxRecordLen is the largest TLSCiphertext fragment any version
	// allows (2^14 + 2048); a longer one is a broken or hostile peer.
	maxRecordLen = 1<<14 + 2048
	// maxPlaintext bounds the content of a decrypted record (2^14).
	maxPlaintext = 1 << 14
	// maxHelloLen bounds a ServerHello; a real one is a few hundred bytes.
	maxHelloLen = 1 << 12
	// maxMessageLen bounds any other handshake message: long certificate
	// chains reach tens of KiB (crypto/tls allows 256 KiB too).
	maxMessageLen = 1 << 18
	// maxFirst is how many of the first bytes are kept to quote; more
	// than are shown, so that a quote can say it was cut.
	maxFirst = 40
	// maxSeen bounds the list of message types kept for the trace.
	maxSeen = 16

	recordCCS       = 20
	recordAlert     = 21
	recordHandshake = 22
	recordAppData   = 23
)

// Kinds of fault in what the server sent; a *Fault wraps one of them.
var (
	ErrNotTLS        = errors.New("not TLS")
	ErrRecordTooLong = errors.New("record longer than TLS allows")
	ErrBadRecord     = errors.New("malformed TLS record")
	ErrBadHandshake  = errors.New("malformed TLS handshake")
	ErrServerAlert   = errors.New("TLS alert from the server")
	ErrUnexpected    = errors.New("unexpected choice by the server")
	ErrCertificate   = errors.New("certificate does not parse")
	ErrKeyMismatch   = errors.New("server key does not match its certificate")
	ErrDecrypt       = errors.New("server records do not decrypt")
	ErrFinished      = errors.New("server Finished does not verify")
)

// Fault is something wrong in what the server sent, with what exactly
// was wrong in words fit for a summary line.
type Fault struct {
	Kind error
	Msg  string
}

func (f *Fault) Error() string { return f.Msg }
func (f *Fault) Unwrap() error { return f.Kind }

func fault(kind error, format string, a ...any) *Fault {
	return &Fault{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// records reads the server's TLS records from r, whatever chunks they
// arrive in, keeping at most one record and a few bytes to quote. The
// first fault sticks: every later call returns it.
type records struct {
	r     io.Reader
	log   Logger
	buf   []byte // read and not yet consumed: buf[off:]
	off   int
	first []byte // the first bytes, to quote when they are not TLS
	total int64  // bytes read
	count int    // record headers read
	err   error  // the first fault or read error

	// protected: the server's keys changed (TLS 1.3 after its
	// ServerHello): a handshake record in the clear is a fault.
	protected bool
}

// fill reads until n bytes are buffered. Before the first record header
// is complete it looks at each byte that arrives, so that an answer that
// is not TLS is named at once, however short.
func (rs *records) fill(n int) error {
	if rs.buf == nil {
		rs.buf = make([]byte, 0, recordHeaderLen+maxRecordLen)
	}
	if rs.off > 0 && len(rs.buf)-rs.off < n && rs.off+n > cap(rs.buf) {
		rs.buf = append(rs.buf[:0], rs.buf[rs.off:]...)
		rs.off = 0
	}
	for len(rs.buf)-rs.off < n {
		m, err := rs.r.Read(rs.buf[len(rs.buf):cap(rs.buf)])
		if m > 0 {
			got := rs.buf[len(rs.buf) : len(rs.buf)+m]
			rs.buf = rs.buf[:len(rs.buf)+m]
			rs.total += int64(m)
			if len(rs.first) < maxFirst {
				rs.first = append(rs.first, got[:min(m, maxFirst-len(rs.first))]...)
			}
			if rs.log != nil {
				rs.log.Printf(3, "< %d bytes", m)
			}
			if rs.count == 0 {
				if f := rs.notTLS(); f != nil {
					return f
				}
			}
		}
		if err != nil && len(rs.buf)-rs.off < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
				if len(rs.buf) == rs.off {
					err = io.EOF
				}
			}
			return err
		}
	}
	return nil
}

// notTLS checks the bytes of the first record header that have arrived:
// a handshake or an alert, record version 3.x.
func (rs *records) notTLS() *Fault {
	b := rs.buf[rs.off:]
	if len(b) >= 1 && b[0] != recordHandshake && b[0] != recordAlert || len(b) >= 2 && b[1] != 3 {
		return fault(ErrNotTLS, "not TLS")
	}
	return nil
}

// next returns the next record's type and body; the body is valid until
// the next call.
func (rs *records) next() (uint8, []byte, error) {
	if rs.err != nil {
		return 0, nil, rs.err
	}
	typ, body, err := rs.read()
	if err != nil {
		rs.err = err
	}
	return typ, body, err
}

func (rs *records) read() (uint8, []byte, error) {
	if err := rs.fill(recordHeaderLen); err != nil {
		return 0, nil, err
	}
	h := rs.buf[rs.off : rs.off+recordHeaderLen]
	typ, major := h[0], h[1]
	length := int(h[3])<<8 | int(h[4])
	rs.count++
	switch {
	case typ < recordCCS || typ > recordAppData || major != 3:
		return 0, nil, fault(ErrBadRecord, "malformed TLS record (type %d, version %d.%d)", typ, major, h[2])
	case length > maxRecordLen:
		return 0, nil, fault(ErrRecordTooLong, "TLS record of %d bytes, more than the %d TLS allows", length, maxRecordLen)
	case length == 0 && typ != recordAppData:
		return 0, nil, fault(ErrBadRecord, "empty TLS record (type %d)", typ)
	case typ == recordHandshake && rs.protected:
		return 0, nil, fault(ErrBadRecord, "handshake record in the clear after the keys changed")
	}
	if err := rs.fill(recordHeaderLen + length); err != nil {
		return 0, nil, err
	}
	body := rs.buf[rs.off+recordHeaderLen : rs.off+recordHeaderLen+length]
	rs.off += recordHeaderLen + length
	if rs.off == len(rs.buf) {
		rs.buf, rs.off = rs.buf[:0], 0
	}
	return typ, body, nil
}

// partial says whether the server stopped in the middle of a record.
func (rs *records) partial() bool { return len(rs.buf) > rs.off }
