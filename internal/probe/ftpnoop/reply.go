package ftpnoop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Bounds on what a reply may cost: a server that sends an endless line or
// endless continuation lines is cut off here, not by memory.
const (
	maxLine  = 2048     // one line, CRLF included
	maxReply = 16 << 10 // one reply, all its lines
)

// errNotFTP is wrapped by every reply that does not follow RFC 959.
var errNotFTP = errors.New("not an FTP reply")

// reply is one server reply: its code and its lines without the CRLF.
type reply struct {
	code  int
	lines [][]byte
}

// first is the first line, for summaries.
func (r reply) first() []byte {
	if len(r.lines) == 0 {
		return nil
	}
	return r.lines[0]
}

// readReply reads one reply (RFC 959 section 4.2): "ddd text" on one line,
// or "ddd-text" and any lines until one that starts with the same "ddd ".
// A lone "ddd" also ends a reply, as servers send it. Lines may end in LF
// alone. What was read so far is returned with an error, for quoting.
func readReply(r *bufio.Reader) (reply, error) {
	var rp reply
	total := 0
	for {
		line, err := readLine(r)
		total += len(line)
		if len(line) > 0 {
			rp.lines = append(rp.lines, bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			if err == io.EOF && len(rp.lines) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return rp, err
		}
		text := rp.lines[len(rp.lines)-1]
		if len(rp.lines) == 1 {
			code, ok := codeOf(text)
			if !ok || (len(text) > 3 && text[3] != ' ' && text[3] != '-') {
				return rp, fmt.Errorf("%w: first line does not start with a code", errNotFTP)
			}
			rp.code = code
			if len(text) == 3 || text[3] == ' ' {
				return rp, nil
			}
		} else if code, ok := codeOf(text); ok && code == rp.code && (len(text) == 3 || text[3] == ' ') {
			return rp, nil
		}
		if total > maxReply {
			return rp, fmt.Errorf("%w: reply longer than %d KiB", errNotFTP, maxReply>>10)
		}
	}
}

// readLine reads up to and including LF, at most maxLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return line[:maxLine], fmt.Errorf("%w: line longer than %d bytes", errNotFTP, maxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// codeOf reads a three-digit reply code, first digit 1-5.
func codeOf(line []byte) (int, bool) {
	if len(line) < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return 0, false
	}
	return int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0'), true
}
