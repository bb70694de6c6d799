package interop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/frame"
)

// Tests against gorilla/websocket: wsx as the server of a gorilla client and as the client of
// a gorilla server.

// gorillaType converts a wsx message type to gorilla's.
func gorillaType(t wsx.MessageType) int {
	if t == wsx.MessageText {
		return websocket.TextMessage
	}
	return websocket.BinaryMessage
}

// dialGorilla connects a gorilla client to a wsx server. Its small write buffer makes
// NextWriter send messages in many frames.
func dialGorilla(t *testing.T, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{WriteBufferSize: 512}
	}
	gc, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("gorilla dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { gc.Close() })
	return gc
}

// gorillaWriteChunked sends p through NextWriter in 7-byte writes, so that frames end inside
// multi-byte characters.
func gorillaWriteChunked(gc *websocket.Conn, p payload) error {
	w, err := gc.NextWriter(gorillaType(p.typ))
	if err != nil {
		return err
	}
	for rest := p.data; len(rest) > 0; {
		n := min(7, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return w.Close()
}

// gorillaRead reads one message and checks that it is p.
func gorillaRead(t *testing.T, gc *websocket.Conn, p payload) {
	t.Helper()
	typ, got, err := gc.ReadMessage()
	if err != nil {
		t.Fatalf("gorilla reading the echo of %v: %v", p, err)
	}
	if typ != gorillaType(p.typ) || !bytes.Equal(got, p.data) {
		t.Fatalf("gorilla read type %d, %d bytes, want %v", typ, len(got), p)
	}
}

// wantGorillaClose checks that err is gorilla's *CloseError with code and reason.
func wantGorillaClose(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
		t.Fatalf("gorilla got %v, want a close with %d %q", err, code, reason)
	}
}

// TestGorillaClientEcho: a gorilla client sends every size and type, whole and in fragments
// (§5.4) with a ping between them, to a wsx echo server.
func TestGorillaClientEcho(t *testing.T) {
	srv := newWSXServer(t, nil, nil, echo)
	var tp tap
	gc := dialGorilla(t, srv.WSURL(), &websocket.Dialer{WriteBufferSize: 512, NetDialContext: tp.dial})
	var sent []payload
	for _, p := range payloads() {
		if err := gc.WriteMessage(gorillaType(p.typ), p.data); err != nil {
			t.Fatal(err)
		}
		gorillaRead(t, gc, p)
		sent = append(sent, p)
	}
	for _, p := range []payload{{wsx.MessageText, makeText(100_000)}, {wsx.MessageBinary, makeBinary(100_000, 5)}} {
		tp.reset()
		if err := gorillaWriteChunked(gc, p); err != nil {
			t.Fatal(err)
		}
		op := frame.OpText
		if p.typ == wsx.MessageBinary {
			op = frame.OpBinary
		}
		checkFragmented(t, tp.frames(t, true), op)
		gorillaRead(t, gc, p)
		sent = append(sent, p)
	}

	// A ping between two fragments is answered before the message ends (§5.4, §5.5.2).
	pongs := make(chan string, 1)
	gc.SetPongHandler(func(data string) error { pongs <- data; return nil })
	w, err := gc.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	part := makeText(2000)
	w.Write(part[:1000])
	if err := gc.WriteControl(websocket.PingMessage, []byte("between"), time.Now().Add(eventTimeout)); err != nil {
		t.Fatal(err)
	}
	w.Write(part[1000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gorillaRead(t, gc, payload{wsx.MessageText, part}) // handles the pong first
	if got := <-pongs; got != "between" {
		t.Fatalf("pong carried %q, want %q", got, "between")
	}
	sent = append(sent, payload{wsx.MessageText, part})

	if err := gc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "gorilla done")); err != nil {
		t.Fatal(err)
	}
	_, _, err = gc.ReadMessage()
	wantGorillaClose(t, err, 4001, "gorilla done") // wsx echoes the code and reason (§5.5.1)
	sc := srv.next(t)
	wantClose(t, sc.Err, 4001, "gorilla done")
	wantReceived(t, sc.Messages, sent)
}

// gorillaRecord is what a gorilla test server saw of one connection.
type gorillaRecord struct {
	Subprotocol string
	Messages    []payload
	Pongs       []string
	Err         error // what ended the read loop
}

// newGorillaServer starts a gorilla server whose connections run gorillaEcho. Its small
// write buffer makes it send echoes in many frames.
func newGorillaServer(t *testing.T, up *websocket.Upgrader, readLimit int64) (url string, records chan *gorillaRecord) {
	records = make(chan *gorillaRecord, 8)
	if up == nil {
		up = &websocket.Upgrader{}
	}
	up.WriteBufferSize = 512
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		gc, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer gc.Close()
		if readLimit > 0 {
			gc.SetReadLimit(readLimit)
		}
		rec := &gorillaRecord{Subprotocol: gc.Subprotocol()}
		rec.Err = gorillaEcho(gc, rec)
		records <- rec
	}))
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http"), records
}

// gorillaEcho echoes messages through NextReader and NextWriter, except that the text
// "close <code> <reason>" makes it send a Close frame and "ping <data>" a ping.
func gorillaEcho(gc *websocket.Conn, rec *gorillaRecord) error {
	gc.SetPongHandler(func(data string) error {
		rec.Pongs = append(rec.Pongs, data)
		return nil
	})
	for {
		typ, r, err := gc.NextReader()
		if err != nil {
			return err
		}
		msg, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		p := payload{wsx.MessageBinary, msg}
		if typ == websocket.TextMessage {
			p.typ = wsx.MessageText
		}
		rec.Messages = append(rec.Messages, p)
		deadline := time.Now().Add(eventTimeout)
		if s, ok := strings.CutPrefix(string(msg), "close "); ok && typ == websocket.TextMessage {
			code, reason, _ := strings.Cut(s, " ")
			n, _ := strconv.Atoi(code)
			if err := gc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(n, reason), deadline); err != nil {
				return err
			}
			continue // read the peer's answering Close
		}
		if s, ok := strings.CutPrefix(string(msg), "ping "); ok && typ == websocket.TextMessage {
			if err := gc.WriteControl(websocket.PingMessage, []byte(s), deadline); err != nil {
				return err
			}
			continue
		}
		w, err := gc.NextWriter(typ)
		if err != nil {
			return err
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// nextGorilla returns the record of the next gorilla connection that ended.
func nextGorilla(t *testing.T, records chan *gorillaRecord) *gorillaRecord {
	t.Helper()
	select {
	case rec := <-records:
		return rec
	case <-time.After(eventTimeout):
		t.Fatalf("no gorilla connection ended within %v", eventTimeout)
	}
	panic("unreachable")
}

// TestGorillaServerEcho: a wsx client sends every size and type, whole and through Writer in
// fragments, to a gorilla echo server, which sends the echoes back in fragments.
func TestGorillaServerEcho(t *testing.T) {
	ctx := context.Background()
	url, records := newGorillaServer(t, nil, 0)
	var tp tap
	c, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{NetDialContext: tp.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var sent []payload
	check := func(p payload) {
		t.Helper()
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the echo of %v: %v", p, err)
		}
		if typ != p.typ || !bytes.Equal(got, p.data) {
			t.Fatalf("echo of %v came back as %v", p, payload{typ, got})
		}
		sent = append(sent, p)
	}
	for _, p := range payloads() {
		if err := c.Write(ctx, p.typ, p.data); err != nil {
			t.Fatal(err)
		}
		check(p)
	}
	for _, p := range []payload{{wsx.MessageText, makeText(100_000)}, {wsx.MessageBinary, makeBinary(100_000, 6)}} {
		tp.reset()
		w, err := c.Writer(ctx, p.typ)
		if err != nil {
			t.Fatal(err)
		}
		for rest := p.data; len(rest) > 0; {
			n := min(7, len(rest))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		op := frame.OpText
		if p.typ == wsx.MessageBinary {
			op = frame.OpBinary
		}
		checkFragmented(t, tp.frames(t, true), op)
		check(p)
	}
	if err := c.Close(4003, "wsx done"); err != nil {
		t.Fatalf("closing handshake with gorilla: %v", err)
	}
	rec := nextGorilla(t, records)
	wantGorillaClose(t, rec.Err, 4003, "wsx done")
	wantReceived(t, rec.Messages, sent)
}

// TestGorillaPing: pings both ways carry their payload back in the pong (§5.5.2, §5.5.3).
func TestGorillaPing(t *testing.T) {
	ctx := context.Background()
	t.Run("wsx server", func(t *testing.T) {
		accepted := make(chan *wsx.Conn, 1)
		srv := newWSXServer(t, nil, nil, func(ctx context.Context, sc *serverConn) error {
			accepted <- sc.Conn
			return echo(ctx, sc)
		})
		gc := dialGorilla(t, srv.WSURL(), nil)
		c := <-accepted
		pongs := make(chan string, 1)
		gc.SetPongHandler(func(data string) error { pongs <- data; return nil })
		pings := make(chan string, 1)
		gc.SetPingHandler(func(data string) error {
			pings <- data
			return gc.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(eventTimeout))
		})
		readErr := make(chan error, 1)
		go func() {
			for {
				if _, _, err := gc.ReadMessage(); err != nil {
					readErr <- err
					return
				}
			}
		}()
		if err := gc.WriteControl(websocket.PingMessage, []byte("from gorilla"), time.Now().Add(eventTimeout)); err != nil {
			t.Fatal(err)
		}
		if got := <-pongs; got != "from gorilla" {
			t.Fatalf("pong carried %q", got)
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		<-pings
		if err := c.Close(wsx.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
		wantGorillaClose(t, <-readErr, 1000, "")
		srv.next(t)
	})
	t.Run("wsx client", func(t *testing.T) {
		url, records := newGorillaServer(t, nil, 0)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		// The gorilla server pings on request; wsx answers while reading the next message.
		for _, data := range []string{"a", "", strings.Repeat("p", 120)} {
			if err := c.Write(ctx, wsx.MessageText, []byte("ping "+data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Write(ctx, wsx.MessageText, []byte("after the pings")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.Read(ctx); err != nil || string(msg) != "after the pings" {
			t.Fatalf("read %q, %v", msg, err)
		}
		// And the other way: gorilla answers wsx's ping while reading.
		pinged := make(chan error, 1)
		go func() { pinged <- c.Ping(ctx) }()
		readErr := make(chan error, 1)
		go func() {
			_, _, err := c.Read(ctx)
			readErr <- err
		}()
		if err := <-pinged; err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := c.Write(ctx, wsx.MessageText, []byte("close 1000 ")); err != nil {
			t.Fatal(err)
		}
		wantClose(t, <-readErr, 1000, "")
		rec := nextGorilla(t, records)
		if strings.Join(rec.Pongs, "|") != "a||"+strings.Repeat("p", 120) {
			t.Errorf("gorilla got pongs %q, want the pings' payloads", rec.Pongs)
		}
	})
}

// TestGorillaClose: the closing handshake with codes and reasons, started by either side,
// with wsx as server and as client (§5.5.1, §7.1.2, §7.4).
func TestGorillaClose(t *testing.T) {
	ctx := context.Background()
	t.Run("wsx server closes", func(t *testing.T) {
		type closeReq struct {
			code   wsx.StatusCode
			reason string
		}
		closing := make(chan closeReq, 1)
		srv := newWSXServer(t, nil, nil, func(ctx context.Context, sc *serverConn) error {
			cl := <-closing
			return sc.Conn.Close(cl.code, cl.reason)
		})
		for _, tc := range []closeReq{{1000, ""}, {1001, "going away"}, {1008, "policy"}, {4999, "ünïcode"}} {
			gc := dialGorilla(t, srv.WSURL(), nil)
			closing <- tc
			// gorilla's default close handler answers with the same code.
			_, _, err := gc.ReadMessage()
			wantGorillaClose(t, err, int(tc.code), tc.reason)
			if err := srv.next(t).Err; err != nil {
				t.Errorf("wsx Close(%v): %v, want a completed handshake", tc.code, err)
			}
		}
	})
	t.Run("gorilla client closes", func(t *testing.T) {
		srv := newWSXServer(t, nil, nil, echo)
		for _, tc := range []struct {
			code   int
			reason string
		}{{1000, "bye"}, {1003, "unsupported"}, {3000, strings.Repeat("é", 61)}} {
			gc := dialGorilla(t, srv.WSURL(), nil)
			if err := gc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, tc.reason)); err != nil {
				t.Fatal(err)
			}
			_, _, err := gc.ReadMessage()
			wantGorillaClose(t, err, tc.code, tc.reason)
			wantClose(t, srv.next(t).Err, wsx.StatusCode(tc.code), tc.reason)
		}
	})
	t.Run("wsx client closes", func(t *testing.T) {
		url, records := newGorillaServer(t, nil, 0)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(wsx.StatusGoingAway, "client leaving"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantGorillaClose(t, nextGorilla(t, records).Err, 1001, "client leaving")
	})
	t.Run("gorilla server closes", func(t *testing.T) {
		url, records := newGorillaServer(t, nil, 0)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, wsx.MessageText, []byte("close 4002 server done")); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(ctx)
		wantClose(t, err, 4002, "server done")
		wantGorillaClose(t, nextGorilla(t, records).Err, 4002, "server done")
	})
}

// TestGorillaReadLimit: a message over the limit fails the connection with 1009 (§10.4),
// with wsx on either side.
func TestGorillaReadLimit(t *testing.T) {
	const limit = 1 << 16
	t.Run("wsx server", func(t *testing.T) {
		srv := newWSXServer(t, &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: limit}}, nil, echo)
		gc := dialGorilla(t, srv.WSURL(), nil)
		if err := gc.WriteMessage(websocket.BinaryMessage, makeBinary(limit+1, 1)); err != nil {
			t.Fatal(err)
		}
		_, _, err := gc.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1009 {
			t.Fatalf("gorilla got %v, want close 1009", err)
		}
		srv.next(t)
	})
	t.Run("wsx client", func(t *testing.T) {
		// gorilla closes TCP as soon as it has sent its Close, with the rest of the message
		// unread, which resets the connection: a message that goes out in one write is
		// written whole before that can happen. (A larger one may fail part-way with EPIPE
		// or ECONNRESET; wsx then closes the connection and the 1009 never reaches the
		// application.)
		const limit = 1024
		ctx := context.Background()
		url, records := newGorillaServer(t, nil, limit)
		c, _, err := wsx.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, wsx.MessageBinary, makeBinary(limit+1, 2)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Read(ctx)
		if wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
			t.Fatalf("read after an oversized write: %v, want gorilla's close 1009", err)
		}
		if rec := nextGorilla(t, records); !errors.Is(rec.Err, websocket.ErrReadLimit) {
			t.Errorf("gorilla ended with %v, want ErrReadLimit", rec.Err)
		}
	})
}

// TestGorillaSubprotocol: the server's preference decides (§1.9, §4.2.2).
func TestGorillaSubprotocol(t *testing.T) {
	t.Run("wsx server", func(t *testing.T) {
		srv := newWSXServer(t, &wsx.AcceptOptions{Subprotocols: []string{"wsx.v2", "wsx.v1"}}, nil, echo)
		gc := dialGorilla(t, srv.WSURL(), &websocket.Dialer{Subprotocols: []string{"wsx.v1", "wsx.v2"}})
		if gc.Subprotocol() != "wsx.v2" {
			t.Errorf("gorilla agreed on %q, want wsx.v2", gc.Subprotocol())
		}
		gc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
		gc.ReadMessage()
		if sc := srv.next(t); sc.Conn.Subprotocol() != "wsx.v2" {
			t.Errorf("wsx agreed on %q, want wsx.v2", sc.Conn.Subprotocol())
		}
	})
	t.Run("wsx client", func(t *testing.T) {
		ctx := context.Background()
		url, records := newGorillaServer(t, &websocket.Upgrader{Subprotocols: []string{"b.v2", "a.v1"}}, 0)
		c, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{Subprotocols: []string{"a.v1", "b.v2"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Subprotocol() != "b.v2" {
			t.Errorf("wsx agreed on %q, want b.v2", c.Subprotocol())
		}
		c.Close(wsx.StatusNormalClosure, "")
		if rec := nextGorilla(t, records); rec.Subprotocol != "b.v2" {
			t.Errorf("gorilla agreed on %q, want b.v2", rec.Subprotocol)
		}
	})
}
