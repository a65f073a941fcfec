package handshake

// parser reads big-endian TLS fields from a message. A read past the end
// marks it bad and returns zeros from then on, so a parse reads every
// field it wants and checks bad once.
type parser struct {
	b   []byte
	bad bool
}

func (p *parser) bytes(n int) []byte {
	if p.bad || n < 0 || n > len(p.b) {
		p.bad = true
		return nil
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v
}

func (p *parser) u8() uint8 {
	if b := p.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (p *parser) u16() uint16 {
	if b := p.bytes(2); b != nil {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return 0
}

func (p *parser) u24() int {
	if b := p.bytes(3); b != nil {
		return int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	}
	return 0
}

func (p *parser) vec8() []byte  { return p.bytes(int(p.u8())) }
func (p *parser) vec16() []byte { return p.bytes(int(p.u16())) }
func (p *parser) vec24() []byte { return p.bytes(p.u24()) }

// done reports whether everything was read, and nothing past the end.
func (p *parser) done() bool { return !p.bad && len(p.b) == 0 }

// builder appends TLS fields; vectors get their length prefix when closed.
type builder struct{ b []byte }

func (w *builder) u8(v uint8)     { w.b = append(w.b, v) }
func (w *builder) u16(v uint16)   { w.b = append(w.b, byte(v>>8), byte(v)) }
func (w *builder) raw(v ...byte)  { w.b = append(w.b, v...) }
func (w *builder) bytes(v []byte) { w.b = append(w.b, v...) }
func (w *builder) vec8(v []byte)  { w.u8(uint8(len(v))); w.bytes(v) }
func (w *builder) vec16(v []byte) { w.u16(uint16(len(v))); w.bytes(v) }
func (w *builder) open(n int) int { w.b = append(w.b, make([]byte, n)...); return len(w.b) }
func (w *builder) close16(at int) { n := len(w.b) - at; w.b[at-2], w.b[at-1] = byte(n>>8), byte(n) }
func (w *builder) close24(at int) {
	n := len(w.b) - at
	w.b[at-3], w.b[at-2], w.b[at-1] = byte(n>>16), byte(n>>8), byte(n)
}
func (w *builder) close8(at int) { w.b[at-1] = byte(len(w.b) - at) }
