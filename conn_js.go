package wsx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/wsx-go/wsx/internal/engine"
)

// Conn is a WebSocket connection from Dial. In a js/wasm build it is the browser's WebSocket
// object, driven through syscall/js, with the methods of the other builds' Conn that a page
// can honour; the package documentation ("WebAssembly") lists what differs.
//
// Any number of goroutines may read and write at once: the browser delivers and sends whole
// messages, one at a time.
type Conn struct {
	ws          js.Value
	opts        ConnOptions
	limit       atomic.Int64 // the read limit, -1 for none: SetReadLimit changes it
	subprotocol string
	extensions  string
	remote      browserAddr

	opened chan struct{} // closed by the open event
	ended  chan struct{} // closed by the close event

	mu      sync.Mutex
	queue   []browserMessage // received, not read yet
	arrived chan struct{}    // one-slot signal: queue grew, or the connection is over
	endErr  error            // what reads return once the queue is drained: set by the close event
	clean   bool             // the close event reported a completed closing handshake
	closing bool             // Close or CloseNow started the closing handshake
	readErr error            // sticky: CloseNow, or a message over the read limit
	funcs   []js.Func        // the event handlers, released by the close event
}

// browserMessage is a message as the browser delivered it: its bytes in a Uint8Array, text
// already encoded as UTF-8.
type browserMessage struct {
	typ  MessageType
	data js.Value
}

// browserAddr is an address of a connection in a browser: the URL for the peer, the page's
// origin for this end.
type browserAddr string

func (browserAddr) Network() string  { return "websocket" }
func (a browserAddr) String() string { return string(a) }

// maxBuffered is how much the browser may hold of what Write sent before the next Write waits:
// send never blocks, and without a bound a writer faster than the network would fill memory.
const maxBuffered = 4 << 20

var (
	jsUint8Array  = js.Global().Get("Uint8Array")
	jsTextEncoder = js.Global().Get("TextEncoder").New()
	jsTextDecoder = js.Global().Get("TextDecoder").New()
)

// newBrowserConn creates the browser's WebSocket and listens to its events.
func newBrowserConn(url string, opts *DialOptions) (c *Conn, err error) {
	protocols := make([]any, len(opts.Subprotocols))
	for i, p := range opts.Subprotocols {
		protocols[i] = p
	}
	c = &Conn{
		opts:    opts.ConnOptions,
		opened:  make(chan struct{}),
		ended:   make(chan struct{}),
		arrived: make(chan struct{}, 1),
	}
	c.limit.Store(c.opts.readLimit())
	if err := catch(func() { c.ws = js.Global().Get("WebSocket").New(url, protocols) }); err != nil {
		return nil, err // a bad URL or subprotocol: the browser throws a SyntaxError
	}
	c.ws.Set("binaryType", "arraybuffer")
	c.remote = browserAddr(c.ws.Get("url").String())
	c.on("open", func(js.Value) {
		c.subprotocol = c.ws.Get("protocol").String()
		c.extensions = c.ws.Get("extensions").String()
		close(c.opened)
	})
	c.on("message", func(e js.Value) {
		data := e.Get("data")
		m := browserMessage{typ: MessageBinary}
		if data.Type() == js.TypeString {
			m.typ, m.data = MessageText, jsTextEncoder.Call("encode", data)
		} else {
			m.data = jsUint8Array.New(data)
		}
		c.mu.Lock()
		c.queue = append(c.queue, m)
		c.mu.Unlock()
		c.signal()
	})
	c.on("close", func(e js.Value) {
		code, reason, clean := e.Get("code").Int(), e.Get("reason").String(), e.Get("wasClean").Bool()
		c.mu.Lock()
		c.clean = clean
		if clean {
			c.endErr = &CloseError{Code: StatusCode(code), Reason: reason, Local: c.closing}
		} else {
			c.endErr = &CloseError{Code: StatusAbnormalClosure, err: errors.New("the browser reports that the connection ended without a closing handshake")}
		}
		funcs := c.funcs
		c.funcs = nil
		c.mu.Unlock()
		close(c.ended)
		c.signal()
		for _, f := range funcs {
			f.Release()
		}
	})
	return c, nil
}

// on sets the handler of a WebSocket event. Handlers run on the browser's event loop and must
// not block.
func (c *Conn) on(event string, handle func(e js.Value)) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		handle(args[0])
		return nil
	})
	c.mu.Lock()
	c.funcs = append(c.funcs, f)
	c.mu.Unlock()
	c.ws.Set("on"+event, f)
}

// signal wakes a reader waiting for a message.
func (c *Conn) signal() {
	select {
	case c.arrived <- struct{}{}:
	default:
	}
}

// catch runs f and returns the JavaScript exception it throws, if any.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			je, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("the browser threw %s", je.Value.Call("toString").String())
		}
	}()
	f()
	return nil
}

// next takes the next message from the queue, waiting for one until ctx is done.
func (c *Conn) next(ctx context.Context) (browserMessage, error) {
	for {
		c.mu.Lock()
		if c.readErr != nil {
			defer c.mu.Unlock()
			return browserMessage{}, c.readErr
		}
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = browserMessage{}
			c.queue = c.queue[1:]
			if len(c.queue) > 0 {
				c.signal() // for another reader
			}
			c.mu.Unlock()
			if limit := c.limit.Load(); limit >= 0 && int64(m.data.Length()) > limit {
				return browserMessage{}, c.fail(fmt.Errorf("wsx: message of %d bytes over the read limit of %d; connection closed (a browser cannot send status %v)", m.data.Length(), limit, StatusMessageTooBig))
			}
			return m, nil
		}
		end := c.endErr
		c.mu.Unlock()
		if end != nil {
			return browserMessage{}, end
		}
		select {
		case <-c.arrived:
		case <-ctx.Done():
			return browserMessage{}, ctx.Err()
		}
	}
}

// fail ends the connection after a message it must refuse, with err as what reads return from
// then on. A page may send only 1000 and 3000-4999, not the code the failure calls for (1008,
// 1009), so the Close frame carries no status.
func (c *Conn) fail(err error) error {
	c.mu.Lock()
	c.readErr, c.closing = err, true
	c.mu.Unlock()
	c.signal()
	c.ws.Call("close")
	return err
}

// SetReadLimit changes the largest message the connection accepts; n means what
// ConnOptions.ReadLimit means (0 the default, negative no limit). It applies from the next
// read call on.
func (c *Conn) SetReadLimit(n int64) {
	o := ConnOptions{ReadLimit: n}
	c.limit.Store(o.readLimit())
}

// CloseRead is for an application that only writes to the connection. The browser answers
// pings and the peer's Close by itself, so all CloseRead does is watch: a data message from the
// peer ends the connection (without a status, as a page may not send 1008), and the context
// returned is done when the connection ends, or when ctx is. Reads by the application are
// refused from then on.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.readErr == nil {
		c.readErr = errors.New("wsx: read after CloseRead")
	}
	c.mu.Unlock()
	go func() {
		defer cancel()
		for {
			c.mu.Lock()
			data, end := len(c.queue) > 0, c.endErr != nil
			c.mu.Unlock()
			switch {
			case data:
				c.fail(errors.New("wsx: data message sent to an endpoint that does not read (CloseRead); connection closed"))
				<-c.ended
				return
			case end:
				return
			}
			select {
			case <-c.arrived:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx
}

// Read reads the next data message and returns its type and payload in a newly allocated
// slice of the message's size; ReadMessage reads into a buffer of the caller's. ctx bounds the
// wait for a message: when it expires, Read returns its error and the connection stays usable.
// After the peer's Close frame, and the messages that came before it, Read returns a
// *CloseError.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	m, err := c.next(ctx)
	if err != nil {
		return 0, nil, err
	}
	p := make([]byte, m.data.Length())
	js.CopyBytesToGo(p, m.data)
	return m.typ, p, nil
}

// ReadMessage appends the payload of the next data message to dst and returns the extended
// slice. It allocates nothing when dst has room for the message.
func (c *Conn) ReadMessage(ctx context.Context, dst []byte) (MessageType, []byte, error) {
	m, err := c.next(ctx)
	if err != nil {
		return 0, dst, err
	}
	n := m.data.Length()
	dst = slices.Grow(dst, n)
	js.CopyBytesToGo(dst[len(dst):len(dst)+n], m.data)
	return m.typ, dst[:len(dst)+n], nil
}

// Reader returns the next data message as a stream. The browser delivers messages whole, so
// ctx bounds only the wait for the message; the stream's reads never block.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	m, err := c.next(ctx)
	if err != nil {
		return 0, nil, err
	}
	return m.typ, &browserReader{data: m.data, n: m.data.Length()}, nil
}

// browserReader reads a message out of its Uint8Array.
type browserReader struct {
	data js.Value
	off  int
	n    int
}

func (r *browserReader) Read(p []byte) (int, error) {
	if r.off == r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.off)
	js.CopyBytesToGo(p[:k], r.data.Call("subarray", r.off, r.off+k))
	r.off += k
	return k, nil
}

// Write sends p as one message of type typ. The browser sends whole messages and never
// blocks: Write returns once the browser holds the message, waiting first, within ctx, while
// it holds more than 4 MiB not yet sent. Text must be valid UTF-8 (§5.6): the browser would
// replace what is not, so Write refuses it. WriteOptions are ignored: the browser decides
// what it compresses.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte, opts ...WriteOption) error {
	if typ != MessageText && typ != MessageBinary {
		return fmt.Errorf("wsx: cannot write a message of type %v", typ)
	}
	if typ == MessageText && engine.CheckText(p) != nil {
		return errInvalidText
	}
	for {
		if c.isClosing() {
			return errClosed
		}
		if c.ws.Get("bufferedAmount").Int() <= maxBuffered {
			break
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	data := jsUint8Array.New(len(p))
	js.CopyBytesToJS(data, p)
	if typ == MessageText {
		data = jsTextDecoder.Call("decode", data)
	}
	return catch(func() { c.ws.Call("send", data) })
}

// isClosing reports whether the closing handshake has started, from either end.
func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.endErr != nil
}

// Writer returns a writer for one message of type typ. The browser sends whole messages, so
// the writer gathers the message and Close sends it with Write, under ctx.
func (c *Conn) Writer(ctx context.Context, typ MessageType, opts ...WriteOption) (io.WriteCloser, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, fmt.Errorf("wsx: cannot write a message of type %v", typ)
	}
	return &browserWriter{c: c, ctx: ctx, typ: typ}, nil
}

// browserWriter gathers a message for Writer.
type browserWriter struct {
	c      *Conn
	ctx    context.Context
	typ    MessageType
	buf    []byte
	closed bool
}

func (w *browserWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("wsx: write to a closed message writer")
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *browserWriter) Close() error {
	if w.closed {
		return errors.New("wsx: message writer closed twice")
	}
	w.closed = true
	return w.c.Write(w.ctx, w.typ, w.buf)
}

// Close performs the closing handshake (§7.1.2): the browser sends a Close frame with code
// and reason, and Close waits up to CloseTimeout for it to report the connection closed. code
// must be 1000 or 3000-4999, the codes a browser lets a page send, and reason at most 123 bytes
// of UTF-8 (§5.5). Close returns nil when the handshake completed; calling it again, or after
// the peer closed, returns an error wrapping net.ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != StatusNormalClosure && (code < 3000 || code > 4999) {
		return fmt.Errorf("wsx: status %v may not be sent from a browser, which allows 1000 and 3000-4999 only", code)
	}
	if err := engine.CheckClose(uint16(code), []byte(reason)); err != nil {
		return fmt.Errorf("wsx: %w", err)
	}
	c.mu.Lock()
	if c.closing || c.endErr != nil {
		c.mu.Unlock()
		return errClosed
	}
	c.closing = true
	c.mu.Unlock()
	c.ws.Call("close", int(code), reason)
	t := time.NewTimer(c.opts.closeTimeout())
	defer t.Stop()
	select {
	case <-c.ended:
	case <-t.C:
		return errors.New("wsx: timed out waiting for the peer's close frame")
	}
	if !c.clean {
		return fmt.Errorf("wsx: closing handshake incomplete: %w", c.endErr)
	}
	return nil
}

// CloseNow ends the connection at once for this end: reads and writes fail from then on. A
// page cannot drop a connection without a closing handshake, so the browser still runs one, in
// the background, with a Close frame without a status (the peer sees 1005).
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	if c.readErr == errClosed || c.endErr != nil {
		c.mu.Unlock()
		return errClosed
	}
	c.readErr, c.closing = errClosed, true
	c.mu.Unlock()
	c.signal()
	c.ws.Call("close")
	return nil
}

// Subprotocol returns the subprotocol the server chose, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Extensions returns the extensions in use, as the browser reports them, or "".
func (c *Conn) Extensions() string { return c.extensions }

// LocalAddr returns the origin of the page.
func (c *Conn) LocalAddr() net.Addr {
	return browserAddr(js.Global().Get("location").Get("origin").String())
}

// RemoteAddr returns the URL the connection was opened to.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }
