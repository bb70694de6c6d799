// Package httphead reads HTTP/1.1 message heads (RFC 9112) and parses
// request heads, strictly and within bounds, for the opening handshake of
// RFC 6455 on a connection that net/http does not serve.
//
// It does no I/O of its own beyond reading from the bufio.Reader it is given,
// and allocates at most one string per head: the fields of a parsed request
// are substrings of it (PeekHead's head is the reader's buffer itself).
package httphead

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unsafe"
)

// ErrTooLong means that a head is longer than its bound: the buffer of the
// bufio.Reader for ReadHead, the Limit of a HeadReader.
var ErrTooLong = errors.New("message head too long")

// ReadHead reads a message head from br: the start line and the header field
// lines up to the empty line that ends them (RFC 9112 §2.1), skipping empty
// lines before the start line (RFC 9112 §2.2). It returns the lines as
// received, with their line ends, and leaves br at the first byte after the
// empty line.
//
// The head may be as long as br's buffer (br.Size()); a longer one is
// ErrTooLong. A bare LF ends a line here too, so that the caller can refuse
// such a head at once instead of waiting for a CRLF that never comes.
//
// On an error from br (io.EOF before any byte, io.ErrUnexpectedEOF for a head
// cut short, a timeout) ReadHead returns it, never a partial head as if it
// were whole; what it read is still buffered in br, unconsumed.
func ReadHead(br *bufio.Reader) (string, error) {
	head, n, err := PeekHead(br)
	if err != nil {
		return "", err
	}
	head = strings.Clone(head)
	br.Discard(n)
	return head, nil
}

// PeekHead is ReadHead without the copy, for a caller that is done with the
// head before it reads again: the head it returns is the bytes buffered in br,
// valid only until br is next read, discarded or reset, and br is left at the
// head's first byte; the caller discards n bytes (the head and the empty lines
// before it) to go on past it.
func PeekHead(br *bufio.Reader) (head string, n int, err error) {
	start := -1 // where the start line starts, once seen
	next := 0   // where the next line starts
	for {
		b, _ := br.Peek(br.Buffered())
		for {
			i := bytes.IndexByte(b[next:], '\n')
			if i < 0 {
				break
			}
			line := b[next : next+i]
			switch {
			case len(line) > 1 || len(line) == 1 && line[0] != '\r':
				if start < 0 {
					start = next
				}
			case start >= 0: // the empty line that ends the head
				n = next + i + 1
				return unsafe.String(&b[start], n-start), n, nil
			}
			next += i + 1
		}
		if len(b) == br.Size() {
			return "", 0, ErrTooLong
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", 0, err
		}
	}
}

// A HeadReader feeds a message head to a parser of net/http (http.ReadResponse), which
// takes a head cut short by a read error (a timeout, the peer closing) for a whole one and
// then reports it malformed. It fails once Limit bytes have been read (ErrTooLong), and keeps
// the first error R returned: the real reason when the parser fails.
type HeadReader struct {
	R     io.Reader
	Limit int   // bytes that may still be read; raise it once the head is read
	Err   error // the first error from R
}

func (h *HeadReader) Read(p []byte) (int, error) {
	if h.Limit <= 0 {
		if h.Err == nil {
			h.Err = ErrTooLong
		}
		return 0, ErrTooLong
	}
	if len(p) > h.Limit {
		p = p[:h.Limit]
	}
	n, err := h.R.Read(p)
	h.Limit -= n
	if err != nil && h.Err == nil {
		h.Err = err
	}
	return n, err
}

// Cause returns the error to report for err, a parser's failure on what h read: the
// error that cut the head short, if any (io.ErrUnexpectedEOF for the end of the stream),
// else err.
func (h *HeadReader) Cause(err error) error {
	switch {
	case h.Err == nil, errors.Is(err, h.Err):
		return err
	case h.Err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return h.Err
}
