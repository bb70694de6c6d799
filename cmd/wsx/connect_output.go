package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// The output formats of wsx connect (-o), and the interactive display of a terminal.
const (
	formatLines    = "lines"
	formatJSON     = "json"
	formatRaw      = "raw"
	formatTerminal = "terminal"
)

// printer writes what wsx connect receives to stdout in the chosen format, and its status
// lines to stderr. Its lock keeps the lines of the two whole when they share a terminal.
type printer struct {
	mu         sync.Mutex
	out        *bufio.Writer
	stderr     io.Writer
	format     string
	hex        bool
	timestamps bool
	verbose    bool   // status lines about the connection are wanted
	buf        []byte // one line being built, kept for the next
}

func newPrinter(e *env, cfg *connectConfig) *printer {
	p := &printer{out: bufio.NewWriter(e.stdout), stderr: e.stderr, format: cfg.output, hex: cfg.hex,
		timestamps: cfg.timestamps, verbose: cfg.verbose || e.interactive}
	if p.format == "" {
		p.format = formatLines
		if e.interactive {
			p.format = formatTerminal
		}
	}
	return p
}

// message writes a message that arrived.
func (p *printer) message(typ wsx.MessageType, msg []byte) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf[:0]
	switch p.format {
	case formatRaw:
		b = append(b, msg...)
	case formatJSON:
		b = appendJSONStart(b, now, typ.String())
		b = append(b, `,"length":`...)
		b = strconv.AppendInt(b, int64(len(msg)), 10)
		b = append(b, `,"data":`...)
		if typ == wsx.MessageText {
			b = appendJSONString(b, msg)
		} else {
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, msg)
			b = append(b, '"')
		}
		b = append(b, "}\n"...)
	case formatLines:
		b = p.appendStamp(b, now)
		switch {
		case typ == wsx.MessageText:
			b = append(b, msg...)
		case p.hex:
			b = hex.AppendEncode(b, msg)
		default:
			b = base64.StdEncoding.AppendEncode(b, msg)
		}
		b = append(b, '\n')
	case formatTerminal:
		b = p.appendStamp(b, now)
		b = append(b, "< "...)
		if typ == wsx.MessageBinary {
			b = fmt.Appendf(b, "[binary, %d bytes] ", len(msg))
			if p.hex {
				b = appendHexDump(b, msg)
			} else {
				b = append(b, escapeControl(msg)...)
			}
		} else {
			b = append(b, escapeControl(msg)...)
		}
		b = append(b, '\n')
	}
	p.out.Write(b)
	p.out.Flush()
	if cap(b) <= 64<<10 {
		p.buf = b
	}
}

// appendStamp adds the time before a line of -t output: the date too in a pipe, where lines
// end up in files.
func (p *printer) appendStamp(b []byte, t time.Time) []byte {
	switch {
	case !p.timestamps:
		return b
	case p.format == formatTerminal:
		b = t.AppendFormat(b, "15:04:05.000")
	default:
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	return append(b, ' ')
}

// status writes a line about the connection to stderr, when the user wants those (-v or a
// terminal).
func (p *printer) status(format string, args ...any) {
	if p.verbose {
		p.warn(format, args...)
	}
}

// warn writes a line to stderr whatever the verbosity: something the user must know.
func (p *printer) warn(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.stderr, "wsx: "+format+"\n", args...)
}

// event reports a connection event: as a JSON object on stdout in the json format, else as
// a status line. fields alternate names and values (string, int or time.Duration).
func (p *printer) event(typ string, line string, fields ...any) {
	if p.format != formatJSON {
		p.status("%s", line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := appendJSONStart(p.buf[:0], time.Now(), typ)
	for i := 0; i+1 < len(fields); i += 2 {
		b = append(b, ',')
		b = appendJSONString(b, []byte(fields[i].(string)))
		b = append(b, ':')
		switch v := fields[i+1].(type) {
		case string:
			b = appendJSONString(b, []byte(v))
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case time.Duration:
			b = strconv.AppendFloat(b, float64(v)/float64(time.Millisecond), 'f', 3, 64)
		}
	}
	b = append(b, "}\n"...)
	p.out.Write(b)
	p.out.Flush()
	p.buf = b
}

// appendJSONStart opens an object of the json format with its time and type.
func appendJSONStart(b []byte, t time.Time, typ string) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string (RFC 8259 §7). Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	for len(s) > 0 {
		c := s[0]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s)
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029': // valid JSON, but not in JavaScript strings
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xf])
			default:
				b = append(b, s[:size]...)
			}
			s = s[size:]
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20 || c == 0x7f:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		s = s[1:]
	}
	return append(b, '"')
}

// appendHexDump appends p as hex bytes separated by spaces, as the playground shows binary.
func appendHexDump(b, p []byte) []byte {
	for i, c := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

const hexDigits = "0123456789abcdef"
