//go:build !js

package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// server accepts WebSocket connections for a test, keeps a read loop on each (which answers
// the peer's Close, as an application's would) and hands them to the test.
type server struct {
	t     testing.TB
	h     *Hub
	ln    net.Listener
	conns chan *wsx.Conn
	opts  wsx.AcceptOptions
	wrap  func(net.Conn) net.Conn
	wg    sync.WaitGroup

	clients []*wsx.Conn // for closing: see answerClose
}

func newServer(t testing.TB, h *Hub, opts wsx.AcceptOptions, wrap func(net.Conn) net.Conn) *server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, h: h, ln: ln, conns: make(chan *wsx.Conn, 100), opts: opts, wrap: wrap}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.wrap != nil {
			nc = s.wrap(nc)
		}
		c, err := wsx.AcceptConn(context.Background(), nc, &s.opts)
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.CloseNow()
			defer s.h.Leave(c)
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		s.conns <- c
	}
}

// dial connects a client and returns it with its server-side Conn.
func (s *server) dial(opts *wsx.DialOptions) (client, conn *wsx.Conn) {
	s.t.Helper()
	client, _, err := wsx.Dial(context.Background(), "ws://"+s.ln.Addr().String()+"/", opts)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { client.CloseNow() })
	s.clients = append(s.clients, client)
	select {
	case conn = <-s.conns:
	case <-time.After(5 * time.Second):
		s.t.Fatal("no server-side connection")
	}
	return client, conn
}

// subscriber dials and subscribes to topics.
func (s *server) subscriber(opts *wsx.DialOptions, topics ...string) (client, conn *wsx.Conn) {
	s.t.Helper()
	client, conn = s.dial(opts)
	for _, topic := range topics {
		if err := s.h.Subscribe(context.Background(), conn, topic); err != nil {
			s.t.Fatal(err)
		}
	}
	return client, conn
}

// read reads one message within 5 seconds.
func read(t testing.TB, c *wsx.Conn) (wsx.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(p)
}

// expectNothing checks that c receives no message for a while.
func expectNothing(t testing.TB, c *wsx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if typ, p, err := c.Read(ctx); err == nil {
		t.Fatalf("unexpected %v message %q", typ, p)
	}
}

func publish(t testing.TB, h *Hub, topic string, typ wsx.MessageType, msg string) {
	t.Helper()
	if err := h.Publish(context.Background(), topic, typ, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// answerClose keeps reading from the clients, as real ones would, so that they answer the
// closing handshake of a Shutdown.
func (s *server) answerClose() {
	for _, c := range s.clients {
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
}

// shutdown shuts h down, with the clients of servers answering the closing handshake.
func shutdown(t testing.TB, h *Hub, servers ...*server) {
	for _, s := range servers {
		s.answerClose()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// Subscribers get what is published on their topics, whole, in order and with its type, and
// nothing else; Unsubscribe and Leave stop delivery.
func TestPublish(t *testing.T) {
	h := New(nil)
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	a, _ := s.subscriber(nil, "news")
	b, bconn := s.subscriber(nil, "news", "sport")
	c, cconn := s.subscriber(nil, "sport")

	for i := range 100 {
		publish(t, h, "news", wsx.MessageText, fmt.Sprint("news ", i))
	}
	if err := h.Publish(context.Background(), "sport", wsx.MessageBinary, []byte("goal"), wsx.Uncompressed); err != nil {
		t.Fatal(err)
	}
	publish(t, h, "weather", wsx.MessageText, "nobody listens")
	for _, client := range []*wsx.Conn{a, b} {
		for i := range 100 {
			if typ, p := read(t, client); typ != wsx.MessageText || p != fmt.Sprint("news ", i) {
				t.Fatalf("got %v %q, want news %d", typ, p, i)
			}
		}
	}
	for _, client := range []*wsx.Conn{b, c} {
		if typ, p := read(t, client); typ != wsx.MessageBinary || p != "goal" {
			t.Fatalf("got %v %q", typ, p)
		}
	}

	h.Unsubscribe(bconn, "news")
	h.Leave(cconn)
	publish(t, h, "news", wsx.MessageText, "after")
	publish(t, h, "sport", wsx.MessageText, "after")
	if _, p := read(t, a); p != "after" {
		t.Fatalf("a got %q", p)
	}
	if _, p := read(t, b); p != "after" { // still on sport
		t.Fatalf("b got %q", p)
	}
	expectNothing(t, b)
	expectNothing(t, c)

	if err := h.Publish(context.Background(), "news", wsx.MessageText, []byte{0xff}); err == nil {
		t.Error("invalid UTF-8 published as text")
	}
	shutdown(t, h, s)
}

// A published message reaches subscribers with and without permessage-deflate, with and
// without context takeover (RFC 7692 §7.1.1), intact.
func TestPublishCompressed(t *testing.T) {
	h := New(nil)
	shared := newServer(t, h, wsx.AcceptOptions{Compression: &wsx.CompressionOptions{NoContextTakeover: true}}, nil)
	own := newServer(t, h, wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}}, nil)
	on := &wsx.DialOptions{Compression: &wsx.CompressionOptions{}}
	clients := []*wsx.Conn{}
	for _, s := range []*server{shared, own} {
		for _, opts := range []*wsx.DialOptions{on, on, nil} {
			c, _ := s.subscriber(opts, "t")
			clients = append(clients, c)
		}
	}
	text := strings.Repeat("compressible text, framed once. ", 64)
	for i := range 5 {
		publish(t, h, "t", wsx.MessageText, fmt.Sprint(i, text))
	}
	for _, c := range clients {
		for i := range 5 {
			if _, p := read(t, c); p != fmt.Sprint(i, text) {
				t.Fatalf("%s: message %d garbled (%d bytes)", c.Extensions(), i, len(p))
			}
		}
	}
	shutdown(t, h, shared, own)
}

// gatedConn is a server-side connection whose writes a test can hold up, as a peer that stops
// reading would, and count.
type gatedConn struct {
	net.Conn
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	expired bool // a write deadline has passed
	closed  bool
	blocked int // writes waiting for the gate
	writes  int // writes let through
}

func gated(nc net.Conn) *gatedConn {
	g := &gatedConn{Conn: nc}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gatedConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.blocked++
	g.cond.Broadcast()
	for g.paused && !g.expired && !g.closed {
		g.cond.Wait()
	}
	g.blocked--
	expired := g.expired || g.closed
	if !expired {
		g.writes++
	}
	g.mu.Unlock()
	if expired {
		return 0, os.ErrDeadlineExceeded
	}
	return g.Conn.Write(p)
}

func (g *gatedConn) SetWriteDeadline(t time.Time) error {
	g.mu.Lock()
	g.expired = !t.IsZero() && !t.After(time.Now())
	g.cond.Broadcast()
	g.mu.Unlock()
	return g.Conn.SetWriteDeadline(t)
}

func (g *gatedConn) SetDeadline(t time.Time) error {
	g.SetWriteDeadline(t)
	return g.Conn.SetDeadline(t)
}

// Close ends a held-up write, as closing a socket does.
func (g *gatedConn) Close() error {
	g.set(func() { g.closed = true })
	return g.Conn.Close()
}

// pause holds up writes from now on; resume lets them go.
func (g *gatedConn) pause() { g.set(func() { g.paused = true }) }

func (g *gatedConn) resume() { g.set(func() { g.paused = false }) }

func (g *gatedConn) set(f func()) {
	g.mu.Lock()
	f()
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitBlocked waits until a write is held at the gate.
func (g *gatedConn) waitBlocked(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	deadline := time.AfterFunc(5*time.Second, func() { g.set(func() {}) })
	defer deadline.Stop()
	start := time.Now()
	for g.blocked == 0 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no write reached the gate")
		}
		g.cond.Wait()
	}
}

func (g *gatedConn) writeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

// gatedServer returns a server whose connections are gated, and a channel of their gates in
// the order of the connections.
func gatedServer(t testing.TB, h *Hub, opts wsx.AcceptOptions) (*server, chan *gatedConn) {
	gates := make(chan *gatedConn, 10)
	s := newServer(t, h, opts, func(nc net.Conn) net.Conn {
		g := gated(nc)
		gates <- g
		return g
	})
	return s, gates
}

// Messages queued while a write is in progress go out together: 100 messages published
// during one stalled write take two more writes (at most 64 messages each), not 99.
func TestCoalesced(t *testing.T) {
	h := New(nil)
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	client, _ := s.subscriber(nil, "t")
	g := <-gates
	before := g.writeCount()
	g.pause()
	publish(t, h, "t", wsx.MessageBinary, "0")
	g.waitBlocked(t)
	for i := 1; i < 100; i++ {
		publish(t, h, "t", wsx.MessageBinary, fmt.Sprint(i))
	}
	// Publish only posts: the burst must be queued whole before the writer goes on, or it
	// takes what the dispatcher has queued so far (4 writes instead of 3, now and then).
	waitQueued(t, h, 99)
	g.resume()
	for i := range 100 {
		if _, p := read(t, client); p != fmt.Sprint(i) {
			t.Fatalf("got %q, want %d", p, i)
		}
	}
	if n := g.writeCount() - before; n != 3 {
		t.Fatalf("%d writes for 100 messages, want 3 (1 + 64 + 35)", n)
	}
	shutdown(t, h, s)
}

// waitQueued waits until the hub's members have n messages queued in all.
func waitQueued(t *testing.T, h *Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		h.mu.RLock()
		queued := 0
		for _, m := range h.members {
			m.mu.Lock()
			if m.bufs != nil {
				queued += len(m.bufs.queue) - m.bufs.head
			}
			m.mu.Unlock()
		}
		h.mu.RUnlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued, want %d", queued, n)
		}
	}
}

// Publish only posts: while the dispatcher is busy, a burst queues nothing for the
// subscribers; the dispatcher then queues the whole burst for each subscriber at once, and
// each gets it in one write.
func TestBurstOneWrite(t *testing.T) {
	h := New(nil)
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	var clients []*wsx.Conn
	var gs []*gatedConn
	var before []int
	for range 20 {
		c, _ := s.subscriber(nil, "t")
		g := <-gates
		clients, gs, before = append(clients, c), append(gs, g), append(before, g.writeCount())
	}
	h.dispatchMu.Lock() // as if the dispatcher were busy with an earlier pass
	for i := range 16 {
		publish(t, h, "t", wsx.MessageBinary, fmt.Sprint(i))
	}
	h.mu.RLock()
	for _, m := range h.members {
		m.mu.Lock()
		if m.queued != 0 {
			t.Errorf("Publish queued %d bytes for a subscriber itself", m.queued)
		}
		m.mu.Unlock()
	}
	h.mu.RUnlock()
	h.dispatchMu.Unlock()
	for i, c := range clients {
		for j := range 16 {
			if _, p := read(t, c); p != fmt.Sprint(j) {
				t.Fatalf("subscriber %d got %q, want %d", i, p, j)
			}
		}
		if n := gs[i].writeCount() - before[i]; n != 1 {
			t.Errorf("subscriber %d: %d writes for a burst of 16, want 1", i, n)
		}
	}
	shutdown(t, h, s)
}

// Subscribe and Unsubscribe fall between the messages published before them and those
// published after, even while the dispatcher has not yet queued the earlier ones: a new
// subscriber gets none of them, one that leaves the topic still gets them all.
func TestSubscriptionBetweenPublishes(t *testing.T) {
	h := New(nil)
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	old, oldConn := s.subscriber(nil, "t")
	_, lateConn := s.dial(nil)
	late := s.clients[len(s.clients)-1]
	h.dispatchMu.Lock() // the dispatcher is busy: the messages below wait, posted
	for i := range 10 {
		publish(t, h, "t", wsx.MessageText, fmt.Sprint("before ", i))
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // while Subscribe has started
		h.dispatchMu.Unlock()
	}()
	if err := h.Subscribe(context.Background(), lateConn, "t"); err != nil {
		t.Fatal(err)
	}
	h.Unsubscribe(oldConn, "t")
	publish(t, h, "t", wsx.MessageText, "after")
	for i := range 10 {
		if _, p := read(t, old); p != fmt.Sprint("before ", i) {
			t.Fatalf("the old subscriber got %q, want before %d", p, i)
		}
	}
	expectNothing(t, old)
	if _, p := read(t, late); p != "after" {
		t.Fatalf("the late subscriber got %q first", p)
	}
	shutdown(t, h, s)
}

// CloseSlow (the default): a subscriber whose pending output would pass MaxPending loses its
// queue and is closed with 1008 once the write in progress is done; others go on.
func TestSlowConsumerClosed_7_4_1(t *testing.T) {
	h := New(&Options{MaxPending: 8 << 10})
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	slowClient, _ := s.subscriber(nil, "t")
	g := <-gates
	fast, fastConn := s.subscriber(nil, "t")
	<-gates

	first := strings.Repeat("f", 5000)
	msg := strings.Repeat("x", 1000)
	g.pause()
	publish(t, h, "t", wsx.MessageText, first)
	g.waitBlocked(t)
	if _, p := read(t, fast); p != first {
		t.Fatalf("fast subscriber got %.10q", p)
	}
	waitWritten(t, h, fastConn)
	// 5032 bytes in flight to the slow subscriber, then 4 x 1033: past 8 KiB.
	for i := range 4 {
		publish(t, h, "t", wsx.MessageText, fmt.Sprint(i, msg))
	}
	for i := range 4 {
		if _, p := read(t, fast); p != fmt.Sprint(i, msg) {
			t.Fatalf("fast subscriber: message %d garbled: %.20q", i, p)
		}
	}
	g.resume()
	if _, p := read(t, slowClient); p != first {
		t.Fatalf("slow subscriber got %.10q", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, p, err := slowClient.Read(ctx); wsx.CloseStatus(err) != wsx.StatusPolicyViolation {
		t.Fatalf("slow subscriber: %.10q, %v; want close 1008", p, err)
	}
	publish(t, h, "t", wsx.MessageText, "later")
	if _, p := read(t, fast); p != "later" {
		t.Fatalf("fast subscriber got %q", p)
	}
	shutdown(t, h, s)
}

// A write that the peer does not take within WriteTimeout ends its connection.
func TestWriteTimeout(t *testing.T) {
	h := New(&Options{WriteTimeout: 100 * time.Millisecond})
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	client, conn := s.subscriber(nil, "t")
	g := <-gates
	g.pause()
	publish(t, h, "t", wsx.MessageText, "stuck")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := client.Read(ctx); wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
		t.Fatalf("client read: %v; want the connection dropped", err)
	}
	if err := conn.Write(context.Background(), wsx.MessageText, []byte("x")); err == nil {
		t.Fatal("the timed-out connection still takes writes")
	}
	waitMembers(t, h, 0)
	shutdown(t, h, s)
}

// DropOldest: a subscriber that falls behind misses the oldest queued messages, keeps the
// newest, in order, and stays connected.
func TestDropOldest(t *testing.T) {
	h := New(&Options{MaxPending: 4 << 10, Overflow: DropOldest})
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	client, _ := s.subscriber(nil, "t")
	g := <-gates
	msg := strings.Repeat("x", 1000)
	g.pause()
	publish(t, h, "t", wsx.MessageText, "first") // in flight: 37 bytes
	g.waitBlocked(t)
	for i := range 10 {
		publish(t, h, "t", wsx.MessageText, fmt.Sprint(i, msg))
	}
	g.resume()
	// 4096 - 37 leaves room for three messages of 1033 bytes: the last three.
	for _, want := range []string{"first", fmt.Sprint(7, msg), fmt.Sprint(8, msg), fmt.Sprint(9, msg)} {
		if _, p := read(t, client); p != want {
			t.Fatalf("got %.10q (%d bytes), want %.10q", p, len(p), want)
		}
	}
	publish(t, h, "t", wsx.MessageText, "still here")
	if _, p := read(t, client); p != "still here" {
		t.Fatalf("got %q", p)
	}
	shutdown(t, h, s)
}

// waitWritten waits until c has nothing pending: its write has returned.
func waitWritten(t testing.TB, h *Hub, c *wsx.Conn) {
	t.Helper()
	h.mu.RLock()
	m := h.members[c]
	h.mu.RUnlock()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		m.mu.Lock()
		pending := m.queued + m.sending
		m.mu.Unlock()
		if pending == 0 {
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d bytes still pending", pending)
		}
	}
}

// waitMembers waits until the Hub has n members.
func waitMembers(t testing.TB, h *Hub, n int) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		h.mu.RLock()
		got := len(h.members)
		h.mu.RUnlock()
		if got == n {
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d members, want %d", got, n)
		}
	}
}

// writerGoroutines counts the goroutines writing to subscribers.
func writerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "hub.(*member).run(")
}

// An idle subscriber has no goroutine and no buffers: a writer runs only while output is
// pending.
func TestIdleSubscriberHoldsNothing(t *testing.T) {
	h := New(nil)
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	var clients []*wsx.Conn
	for range 20 {
		c, _ := s.subscriber(nil, "t")
		clients = append(clients, c)
	}
	for i := range 3 {
		publish(t, h, "t", wsx.MessageText, fmt.Sprint(i))
	}
	for _, c := range clients {
		for range 3 {
			read(t, c)
		}
	}
	for start := time.Now(); writerGoroutines() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d writer goroutines left with nothing to write", writerGoroutines())
		}
	}
	h.mu.RLock()
	for _, m := range h.members {
		m.mu.Lock()
		if m.bufs != nil || m.writing {
			t.Errorf("idle member holds buffers (%v) or a writer (%v)", m.bufs != nil, m.writing)
		}
		m.mu.Unlock()
	}
	h.mu.RUnlock()
	shutdown(t, h, s)
}

// Shutdown writes what is queued, then closes every subscriber with 1001 (§7.4.1) through the
// closing handshake; afterwards the Hub refuses work.
func TestShutdown_7_4_1(t *testing.T) {
	h := New(nil)
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	var clients []*wsx.Conn
	for range 5 {
		c, _ := s.subscriber(nil, "a", "b")
		clients = append(clients, c)
	}
	_, idle := s.dial(nil) // connected, subscribed to nothing: not the Hub's
	done := make(chan error, len(clients))
	for _, c := range clients {
		go func() {
			for i := 0; ; i++ {
				_, p, err := c.Read(context.Background())
				if err != nil {
					if wsx.CloseStatus(err) != wsx.StatusGoingAway {
						err = fmt.Errorf("after %d messages: %w", i, err)
					} else if i != 20 {
						err = fmt.Errorf("%d messages before the close", i)
					} else {
						err = nil
					}
					done <- err
					return
				}
				if string(p) != fmt.Sprint(i) {
					done <- fmt.Errorf("message %d is %q", i, p)
					return
				}
			}
		}()
	}
	for i := range 20 {
		publish(t, h, []string{"a", "b"}[i%2], wsx.MessageText, fmt.Sprint(i))
	}
	shutdown(t, h)
	for range clients {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if err := h.Publish(context.Background(), "a", wsx.MessageText, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Shutdown: %v", err)
	}
	if err := h.Subscribe(context.Background(), idle, "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Shutdown: %v", err)
	}
	if err := h.Shutdown(context.Background()); err == nil {
		t.Error("second Shutdown succeeded")
	}
	if err := idle.Write(context.Background(), wsx.MessageText, []byte("mine")); err != nil {
		t.Errorf("a connection outside the Hub was closed: %v", err)
	}
}

// When ctx ends first, Shutdown drops the connections still open and returns ctx's error,
// leaving no goroutine behind.
func TestShutdownDeadline(t *testing.T) {
	h := New(nil)
	s, gates := gatedServer(t, h, wsx.AcceptOptions{})
	client, _ := s.subscriber(nil, "t")
	g := <-gates
	g.pause()
	publish(t, h, "t", wsx.MessageText, "stuck")
	g.waitBlocked(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, _, err := client.Read(context.Background()); wsx.CloseStatus(err) != wsx.StatusAbnormalClosure {
		t.Fatalf("client: %v", err)
	}
	if n := writerGoroutines(); n != 0 {
		t.Fatalf("%d writer goroutines after Shutdown", n)
	}
}

// bus is an in-process Broker for tests: it connects the hubs of one process as NATS would
// connect hubs on several machines, delivering synchronously to every other hub.
type bus struct {
	mu   sync.Mutex
	subs map[string]map[*busSub]bool
}

type busSub struct {
	from    *busBroker
	deliver func(Message)
}

// busBroker is one hub's Broker on a bus.
type busBroker struct {
	bus       *bus
	published int
}

func (b *bus) broker() *busBroker { return &busBroker{bus: b} }

func (b *busBroker) Publish(ctx context.Context, msg Message) error {
	b.published++
	b.bus.mu.Lock()
	var to []*busSub
	for s := range b.bus.subs[msg.Topic] {
		if s.from != b {
			to = append(to, s)
		}
	}
	b.bus.mu.Unlock()
	data := bytes.Clone(msg.Data)
	for _, s := range to {
		s.deliver(Message{Topic: msg.Topic, Type: msg.Type, Data: data, Uncompressed: msg.Uncompressed})
	}
	return nil
}

func (b *busBroker) Subscribe(ctx context.Context, topic string, deliver func(Message)) (func(), error) {
	s := &busSub{from: b, deliver: deliver}
	b.bus.mu.Lock()
	defer b.bus.mu.Unlock()
	if b.bus.subs == nil {
		b.bus.subs = map[string]map[*busSub]bool{}
	}
	if b.bus.subs[topic] == nil {
		b.bus.subs[topic] = map[*busSub]bool{}
	}
	b.bus.subs[topic][s] = true
	return func() {
		b.bus.mu.Lock()
		delete(b.bus.subs[topic], s)
		if len(b.bus.subs[topic]) == 0 {
			delete(b.bus.subs, topic)
		}
		b.bus.mu.Unlock()
	}, nil
}

func (b *bus) topics() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, subs := range b.subs {
		n += len(subs)
	}
	return n
}

// Through a Broker two hubs deliver each other's messages, each once; a Hub subscribes to a
// topic on the broker with its first subscriber and ends that with its last.
func TestBroker(t *testing.T) {
	var b bus
	h1, h2 := New(&Options{Broker: b.broker()}), New(&Options{Broker: b.broker()})
	s1, s2 := newServer(t, h1, wsx.AcceptOptions{}, nil), newServer(t, h2, wsx.AcceptOptions{}, nil)
	c1, conn1 := s1.subscriber(nil, "t")
	c2, conn2 := s2.subscriber(nil, "t")
	s2.subscriber(nil, "t")
	if n := b.topics(); n != 2 {
		t.Fatalf("%d broker subscriptions for two hubs on one topic", n)
	}
	publish(t, h1, "t", wsx.MessageText, "from 1")
	publish(t, h2, "t", wsx.MessageBinary, "from 2")
	for _, c := range []*wsx.Conn{c1, c2} {
		got := map[string]bool{}
		for range 2 {
			_, p := read(t, c)
			got[p] = true
		}
		if !got["from 1"] || !got["from 2"] {
			t.Fatalf("got %v", got)
		}
		expectNothing(t, c) // each message once: no echo
	}
	h1.Leave(conn1)
	h2.Unsubscribe(conn2, "t")
	if n := b.topics(); n != 1 {
		t.Fatalf("%d broker subscriptions after hub 1's last subscriber left", n)
	}
	shutdown(t, h1, s1)
	shutdown(t, h2, s2)
	if n := b.topics(); n != 0 {
		t.Fatalf("%d broker subscriptions after Shutdown", n)
	}
}

// A broker that cannot subscribe makes Subscribe fail, and leaves nothing behind.
func TestBrokerSubscribeFails(t *testing.T) {
	h := New(&Options{Broker: failingBroker{}})
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	_, conn := s.dial(nil)
	if err := h.Subscribe(context.Background(), conn, "t"); err == nil || !strings.Contains(err.Error(), "no broker") {
		t.Fatalf("Subscribe: %v", err)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.topics) != 0 || len(h.members) != 0 {
		t.Fatalf("%d topics, %d members left", len(h.topics), len(h.members))
	}
}

type failingBroker struct{}

func (failingBroker) Publish(context.Context, Message) error { return errors.New("no broker") }

func (failingBroker) Subscribe(context.Context, string, func(Message)) (func(), error) {
	return nil, errors.New("no broker")
}

// Subscribers joining and leaving while several goroutines publish: every subscriber that
// stays gets every message of each publisher in that publisher's order (run with -race).
func TestConcurrentChurn(t *testing.T) {
	h := New(nil)
	s := newServer(t, h, wsx.AcceptOptions{}, nil)
	const publishers, perPublisher = 3, 200
	var stayers []*wsx.Conn
	for range 4 {
		c, _ := s.subscriber(nil, "t")
		stayers = append(stayers, c)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // churn
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			client, conn := s.dial(nil)
			h.Subscribe(context.Background(), conn, "t")
			h.Subscribe(context.Background(), conn, "u")
			h.Unsubscribe(conn, "t")
			client.CloseNow()
		}
	}()
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				h.Publish(context.Background(), "t", wsx.MessageText, []byte(fmt.Sprintf("%d %d", p, i)))
			}
		}()
	}
	for _, c := range stayers {
		next := make([]int, publishers)
		for range publishers * perPublisher {
			_, msg := read(t, c)
			var p, i int
			fmt.Sscanf(msg, "%d %d", &p, &i)
			if i != next[p] {
				t.Fatalf("publisher %d: got %d, want %d", p, i, next[p])
			}
			next[p]++
		}
	}
	close(stop)
	wg.Wait()
	shutdown(t, h, s)
}

// Delivering a message allocates nothing per subscriber: a publish costs the same
// allocations (the prepared message) whatever the number of subscribers.
func TestZeroAllocsPerDelivery(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; scripts/test.sh runs this without -race")
	}
	allocs := map[int]float64{}
	for _, n := range []int{1, 50} {
		h := New(nil)
		s := newServer(t, h, wsx.AcceptOptions{}, nil)
		var clients []*wsx.Conn
		for range n {
			c, _ := s.subscriber(nil, "t")
			clients = append(clients, c)
		}
		msg := []byte("tick")
		buf := make([]byte, 0, 64)
		round := func() {
			h.Publish(context.Background(), "t", wsx.MessageText, msg)
			for _, c := range clients {
				if _, _, err := c.ReadMessage(context.Background(), buf[:0]); err != nil {
					t.Fatal(err)
				}
			}
		}
		for range 20 {
			round()
		}
		allocs[n] = testing.AllocsPerRun(100, round)
		shutdown(t, h, s)
	}
	if allocs[50] > allocs[1] {
		t.Fatalf("allocations per publish: %v with 1 subscriber, %v with 50", allocs[1], allocs[50])
	}
	if allocs[1] > 2 {
		t.Fatalf("%v allocations per publish, want the prepared message's 2", allocs[1])
	}
}

// BenchmarkPublish publishes bursts to 100 subscribers on loopback TCP, whose clients read
// them; ns/op is per delivered message, clients included.
func BenchmarkPublish(b *testing.B) {
	for _, burst := range []int{1, 16} {
		b.Run(fmt.Sprint("burst", burst), func(b *testing.B) {
			h := New(nil)
			s := newServer(b, h, wsx.AcceptOptions{}, nil)
			const subs = 100
			var round sync.WaitGroup
			start := make([]chan bool, subs)
			for i := range subs {
				client, _ := s.subscriber(nil, "t")
				start[i] = make(chan bool)
				go func() {
					buf := make([]byte, 0, 128)
					for <-start[i] {
						for range burst {
							if _, _, err := client.ReadMessage(context.Background(), buf[:0]); err != nil {
								b.Error(err)
							}
						}
						round.Done()
					}
				}()
			}
			msg := make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += subs * burst {
				round.Add(subs)
				for _, c := range start {
					c <- true
				}
				for range burst {
					h.Publish(context.Background(), "t", wsx.MessageBinary, msg)
				}
				round.Wait()
			}
			b.StopTimer()
			for _, c := range start {
				close(c)
			}
			shutdown(b, h, s)
		})
	}
}
