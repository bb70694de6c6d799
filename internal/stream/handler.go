package stream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// NewHandler sends the response header of a net/http handler's request, whose status w
// has, and returns the Conn of its stream: an HTTP/2 extended CONNECT (RFC 8441 §5). The Conn
// reads r.Body and writes w, flushing every write.
//
// net/http ends the stream when the handler returns, so the handler must not return before
// it is done with the Conn: Close stops reading and writing, and the stream's end
// (END_STREAM) goes out when the handler returns. CloseWrite is not supported, for the same
// reason.
func NewHandler(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	h := &handlerStream{body: r.Body, w: w, rc: http.NewResponseController(w), ctx: r.Context()}
	if err := h.rc.Flush(); err != nil {
		return nil, err
	}
	// The server's ReadTimeout and WriteTimeout set the stream's fatal deadlines: clear them.
	h.rc.SetReadDeadline(time.Time{})
	h.rc.SetWriteDeadline(time.Time{})
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return New(h, local, parseAddr(r.RemoteAddr)), nil
}

type handlerStream struct {
	body io.ReadCloser
	w    http.ResponseWriter
	rc   *http.ResponseController
	ctx  context.Context // the request's: done once the handler returned or the stream ended

	// mu is held while w is in use, and closed is set by Close: once Close has returned, the
	// handler may return, after which net/http's ResponseWriter must not be used (it flushes
	// w's buffer as the handler returns).
	mu     sync.Mutex
	closed bool
}

// errHandlerDone is returned for writes after the request's context ended: net/http's
// ResponseWriter may not be used once the handler returned.
var errHandlerDone = errors.New("the stream ended: the handler returned or the peer reset the stream")

func (h *handlerStream) Read(p []byte) (int, error) { return h.body.Read(p) }

func (h *handlerStream) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.ctx.Err() != nil {
		return 0, errHandlerDone
	}
	n, err := h.w.Write(p)
	if err == nil {
		err = h.rc.Flush()
	}
	return n, err
}

func (h *handlerStream) CloseWrite() error {
	return errors.New("net/http ends the stream when the handler returns")
}

// Abort resets the stream: net/http's HTTP/2 server resets a stream at once when its write
// deadline is set in the past (RST_STREAM), which makes a blocked write return.
func (h *handlerStream) Abort() {
	if h.ctx.Err() == nil { // the ResponseWriter is still the handler's
		h.rc.SetWriteDeadline(time.Unix(1, 0))
	}
	h.body.Close()
}

// Close stops reading and ends the Conn's use of the ResponseWriter: it waits for a write in
// progress, aborting it if it has to (a write blocked on the peer would hold the handler up),
// and no write starts after it.
func (h *handlerStream) Close() error {
	err := h.body.Close()
	if !h.mu.TryLock() {
		h.Abort()
		h.mu.Lock()
	}
	h.closed = true
	h.mu.Unlock()
	return err
}

// addr is a network address known only as a string.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// parseAddr turns an http.Request's RemoteAddr into a net.Addr.
func parseAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return addr(s)
}
