//go:build !js

package wsx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/handshake"
	"github.com/wsx-go/wsx/internal/httphead"
)

// AcceptConn performs the server side of the opening handshake (§4.2) on nc,
// a connection fresh from a net.Listener, without net/http: it reads the
// request from nc, checks it by the same rules as Accept, writes the 101
// Switching Protocols response or the refusal itself, and returns the
// WebSocket connection.
//
// AcceptConn is for a port that serves WebSockets only. It is the cheapest
// way to accept a connection: no http.Server, no bufio.Reader, bufio.Writer
// or parsed http.Request kept alive by a handler, and a handshake of a few
// allocations. It reads only what the handshake needs: a server that routes
// by path, or authenticates with cookies or other header fields, uses Accept
// from a handler instead.
//
// The request head may be at most 16 KiB long, with at most 100 header
// fields; a larger one is refused with 431 Request Header Fields Too Large
// (RFC 6585 §5). It must follow the HTTP/1.1 syntax strictly (RFC 9112):
// lines end in CRLF, a field name is followed directly by its colon, no
// field is folded over several lines, the Host field appears once; anything
// else is refused with 400 Bad Request. Every other refusal is Accept's,
// with the same status, header fields and text, and with Date and
// "Connection: close" added: AcceptConn closes nc after a refusal, and
// whenever it returns an error.
//
// ctx bounds the handshake: its deadline (DefaultHandshakeTimeout when it has
// none) is set on nc while AcceptConn reads the request and writes the
// response, and cancelling it closes nc. AcceptConn clears nc's deadlines
// before it returns the Conn, which receives any bytes the client sent after
// the request.
//
// nc may also be a *tls.Conn from a tls.NewListener: its TLS handshake then
// runs on the first read, under ctx too.
func AcceptConn(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &zeroAcceptOptions
	}
	if ctx.Err() != nil {
		nc.Close()
		return nil, fmt.Errorf("wsx: opening handshake: %w", context.Cause(ctx))
	}
	deadline := handshakeDeadline(ctx)
	nc.SetDeadline(deadline)
	// Cancelling ctx ends any read or write in progress, as in Dial. A
	// context that can never be cancelled (context.Background) needs no
	// watcher: the deadline bounds the handshake.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { nc.Close() })
	}
	st := acceptStates.Get().(*acceptState)
	c, err := st.accept(nc, opts)
	st.release()
	if err != nil {
		if stop != nil {
			stop()
		}
		if _, refused := err.(*refusal); !refused {
			if cause := handshakeCause(ctx, deadline, err); cause != nil {
				err = fmt.Errorf("wsx: opening handshake: %w", cause)
			}
		}
		return nil, err
	}
	if stop != nil && !stop() {
		c.CloseNow() // too late: the AfterFunc closed nc
		return nil, fmt.Errorf("wsx: opening handshake: %w", context.Cause(ctx))
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// acceptState is what AcceptConn reads and parses a request with. It is
// pooled, so that a handshake allocates none of it and its goroutine's
// stack stays small: whatever the reader holds past the request goes to the
// Conn's own (pooled) read buffer.
type acceptState struct {
	serverState
	br     *bufio.Reader // httphead.MaxRequestHead long
	parser httphead.Parser
	r      http.Request // only what the parser fills in
	header http.Header  // r.Header
}

var acceptStates = sync.Pool{New: func() any {
	return &acceptState{
		serverState: serverState{resp: make([]byte, 0, 512)},
		br:          bufio.NewReaderSize(nil, httphead.MaxRequestHead),
		parser:      httphead.Parser{Keep: handshake.RequestFields},
		header:      make(http.Header, len(handshake.RequestFields)),
	}
}}

// release empties st and puts it back in its pool.
func (st *acceptState) release() {
	st.br.Reset(nil)
	st.parser.Release()
	st.r = http.Request{}
	clear(st.header)
	st.offer.Reset()
	st.resp = st.resp[:0]
	acceptStates.Put(st)
}

// accept is AcceptConn after the deadline is set: it reads and checks the
// request from nc and answers it.
func (st *acceptState) accept(nc net.Conn, opts *AcceptOptions) (*Conn, error) {
	st.br.Reset(nc)
	head, n, err := httphead.PeekRequest(st.br)
	if err != nil {
		if herr, ok := err.(*httphead.Error); ok {
			return nil, refuse(nc, refuseWith(herr.Status, herr.Reason), true) // the rest of the head is unread
		}
		nc.Close()
		return nil, fmt.Errorf("wsx: reading the opening handshake request: %w", err)
	}
	acc, ref := st.answer(head, opts)
	st.br.Discard(n)
	if ref != nil {
		unread := st.br.Buffered() > 0 || st.r.ContentLength != 0 || len(st.r.TransferEncoding) > 0
		return nil, refuse(nc, ref, unread)
	}
	return startConn(nc, st.resp, st.br, &acc, opts)
}

// answer parses the request head and checks it: the acceptance, with the 101
// response in st.resp, or the refusal.
//
// head is read in place (httphead.PeekRequest): the request's fields are
// substrings of st.br's buffer, which saves a handshake the copy of its
// head. Nothing answer returns refers to them: the acceptance holds the
// server's own strings (the subprotocol of AcceptOptions, the extensions it
// writes), and a refusal, which outlives the handshake as an error, takes
// copies of what it quotes.
func (st *acceptState) answer(head string, opts *AcceptOptions) (acceptance, *refusal) {
	st.r.Header = st.header
	if err := st.parser.Parse(head, &st.r); err != nil {
		herr := err.(*httphead.Error)
		return acceptance{}, refuseWith(herr.Status, herr.Reason)
	}
	acc, ref := st.prepare(&st.r, opts)
	if ref != nil {
		ref.detach()
	}
	acc.key = "" // a substring of head, for the response only
	return acc, ref
}

// refuse writes the refusal ref on nc, closes nc and returns ref.
//
// When the client may have sent more than the server read (unread is true:
// the rest of a head too large, a body), closing a socket with unread input
// makes the kernel reset the connection, and a reset can destroy the
// refusal before the client reads it. So nc is half-closed first, and what
// the client still sends is read and dropped until it closes its end or for
// a moment at most, as net/http does.
func refuse(nc net.Conn, ref *refusal, unread bool) error {
	st := serverStates.Get().(*serverState)
	st.resp = ref.appendRaw(st.resp[:0], time.Now())
	_, err := nc.Write(st.resp)
	st.release()
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && unread && err == nil && cw.CloseWrite() == nil {
		// ctx's deadline, when earlier, still applies: the AfterFunc closes nc.
		nc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
	}
	nc.Close()
	return ref
}

// How long, and for how many bytes, refuse waits for the client's end.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 256 << 10
)
