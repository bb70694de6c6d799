//go:build !js

package wsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/wsx-go/wsx/internal/frame"
)

// An idle connection's read loop keeps the 2 KiB stack a goroutine starts with, through a Ping
// answered and a message echoed on the way: the frames of ReadMessage's and Write's call chains
// down to the system calls stay under the ~1.1 KiB a 2 KiB stack has above its guard
// (rawconn_unix.go). Stacks that grew to 4 KiB never shrink back, and double what an idle
// connection costs. With permessage-deflate the compressor's and decompressor's own call chains
// need a 4 KiB stack; it must not grow further.
func TestIdleStackStaysSmall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the raw socket path, and the sizes below, are those of Linux")
	}
	if raceEnabled {
		t.Skip("the race detector doubles the stack every function may use; scripts/test.sh runs this without -race")
	}
	// The measure is the process's stack memory, which goroutines of the tests run before
	// this one (still exiting, or draining a closed connection) would disturb: it runs in a
	// process of its own.
	if os.Getenv("WSX_IDLE_STACK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleStackStaysSmall$", "-test.v")
		cmd.Env = append(os.Environ(), "WSX_IDLE_STACK_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a process of its own:\n%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "permessage-deflate"}[compressed], func(t *testing.T) {
			idleStack(t, compressed)
		})
	}
}

func idleStack(t *testing.T, compressed bool) {
	const n = 200
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var clients []net.Conn
	for range n {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		clients = append(clients, client)
	}
	var servers []*Conn
	for range n {
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		cfg := connConfig{}
		if compressed {
			p := noContext
			cfg.deflate = &p
		}
		servers = append(servers, newConn(nc, cfg))
	}
	runtime.GC()
	// A sync.Pool registers itself again on its first use after a GC, which allocates: a
	// goroutine that makes that first use deep in its call chain grows its stack (once per
	// pool and GC cycle). Make it here.
	warm, peer := serverWithRawClient(t, ConnOptions{})
	go func() { typ, p, _ := warm.Read(context.Background()); warm.Write(context.Background(), typ, p) }()
	peer.send(true, frame.OpBinary, []byte("warm"))
	peer.readFrame()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	for _, c := range servers {
		go func() {
			// An echo loop as a server writes one (bench/servers/wsx.go).
			defer func() { done <- struct{}{} }()
			defer c.CloseNow()
			ctx := context.Background()
			var buf []byte
			for {
				typ, p, err := c.ReadMessage(ctx, buf[:0])
				if err != nil {
					return
				}
				buf = p
				if err := c.Write(ctx, typ, buf); err != nil {
					return
				}
			}
		}()
	}
	// A ping, answered from deep in the read path, then a message echoed.
	msg := append(frameBytes(true, 0, frame.OpPing, true, []byte("p")), frameBytes(true, 0, frame.OpBinary, true, make([]byte, 16))...)
	if compressed {
		msg = append(frameBytes(true, 0, frame.OpPing, true, []byte("p")), frameBytes(true, frame.Rsv1, frame.OpText, true, deflateMsg(t, []byte(strings.Repeat("compressible ", 20))))...)
	}
	for _, client := range clients {
		client.Write(msg)
		peer := &rawPeer{t: t, nc: client, client: true}
		peer.readFrame()
		peer.readFrame()
	}
	time.Sleep(50 * time.Millisecond) // every loop is parked in ReadMessage
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stack per idle connection: %d bytes", perConn)
	if limit := map[bool]int64{false: 2 << 10, true: 4 << 10}[compressed]; perConn > limit+limit/8 {
		t.Errorf("stack per idle connection %d bytes: the read loop's stack grew past %d", perConn, limit)
	}
	for _, c := range servers {
		c.CloseNow()
	}
	for range servers {
		<-done
	}
}

// A Conn takes the runtime's 320-byte size class: what an idle connection keeps of it between
// calls (the transport, the options, the locks, the sticky errors, the watches of the calls'
// contexts), with each side's working state pooled (conn.go). Measured, not computed, so that
// it follows the runtime.
func TestConnSizeClass(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what an allocation takes")
	}
	conns := make([]*Conn, 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range conns {
		conns[i] = new(Conn)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	if per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(conns)); per > 320 {
		t.Errorf("a Conn (%d bytes) takes %d bytes of heap, past the 320-byte size class", unsafe.Sizeof(Conn{}), per)
	}
}

// An idle connection holds no working state: after a message echoed, a Ping answered and a Ping
// of its own, its read loop parked in ReadMessage has given both sides' state back to their
// pools, with or without permessage-deflate; a read or write brings them back.
func TestIdleConnectionHoldsNoWorkingState(t *testing.T) {
	if !(&Conn{raw: rawConn{}}).raw.ok() && runtime.GOOS != "linux" {
		t.Skip("only the raw socket path parks the reading side")
	}
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "permessage-deflate"}[compressed], func(t *testing.T) {
			a, b := tcpPair(t)
			cfg := connConfig{}
			if compressed {
				p := noContext
				cfg.deflate = &p
			}
			c := newConn(a, cfg)
			peer := &rawPeer{t: t, nc: b, client: true}
			done := make(chan error, 1)
			go func() {
				var buf []byte
				for {
					typ, p, err := c.ReadMessage(context.Background(), buf[:0])
					if err != nil {
						done <- err
						return
					}
					buf = p
					if err := c.Write(context.Background(), typ, buf); err != nil {
						done <- err
						return
					}
				}
			}()
			idle := func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.r.readState == nil && c.w.sendState == nil
			}
			waitIdle := func(what string) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); !idle(); time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						c.mu.Lock()
						t.Fatalf("%s: the connection holds its working state (reading %v, sending %v)", what, c.r.readState != nil, c.w.sendState != nil)
					}
				}
			}
			waitIdle("before any message")
			peer.send(true, frame.OpBinary, []byte("hello"))
			if h, p := peer.readFrame(); h.Opcode != frame.OpBinary || (!compressed && string(p) != "hello") {
				t.Fatalf("echo: %v %q", h.Opcode, p)
			}
			waitIdle("after a message echoed")
			peer.send(true, frame.OpPing, []byte("p"))
			if h, p := peer.readFrame(); h.Opcode != frame.OpPong || string(p) != "p" {
				t.Fatalf("pong: %v %q", h.Opcode, p)
			}
			waitIdle("after a Ping answered")
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(ctxFor(t, 5*time.Second)) }()
			h, p := peer.readFrame()
			if h.Opcode != frame.OpPing {
				t.Fatalf("read %v, want our Ping", h.Opcode)
			}
			peer.send(true, frame.OpPong, p)
			if err := <-pinged; err != nil {
				t.Fatalf("Ping = %v", err)
			}
			waitIdle("after a Ping of its own")
			c.CloseNow()
			<-done
		})
	}
}

// An idle connection costs its goroutine, its socket and little more: the heap that 200
// connections parked in ReadMessage hold above 200 goroutines parked in net.Conn.Read on the
// same kind of sockets (bench/cmd/idlefloor measures that floor) is the Conn (320 bytes), the
// read callback and the socket's RawConn (16 and 8) and the echo loop's 16-byte buffer: about
// 360 bytes a connection on the machine this was written on. The bound, 448, is below what one
// working state left held would add (536 bytes, in the 576-byte class).
func TestIdleHeapAboveFloor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the raw socket path, and the sizes below, are those of Linux")
	}
	if raceEnabled {
		t.Skip("the race detector changes what an allocation takes")
	}
	if mode := os.Getenv("WSX_IDLE_HEAP_CHILD"); mode != "" {
		fmt.Printf("heap per connection: %d\n", idleHeap(t, mode == "wsx"))
		return
	}
	// Each in a process of its own: goroutines that exited leave their descriptors for the
	// next to reuse, and the runtime's tables grow once.
	measure := func(mode string) int64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleHeapAboveFloor$")
		cmd.Env = append(os.Environ(), "WSX_IDLE_HEAP_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		var per int64
		if _, err := fmt.Sscanf(string(out), "heap per connection: %d", &per); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		return per
	}
	floor, heap := measure("floor"), measure("wsx")
	t.Logf("heap per idle connection: %d bytes with wsx, %d with a bare read", heap, floor)
	if heap-floor > 448 {
		t.Errorf("an idle wsx connection holds %d bytes of heap above a bare read's %d", heap-floor, floor)
	}
}

// idleHeap returns the heap per connection that n server sockets hold, each with a goroutine
// parked in a wsx read loop after one echoed message, or in net.Conn.Read.
func idleHeap(t *testing.T, wsx bool) int64 {
	const n = 200
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clients := make([]net.Conn, n)
	for i := range clients {
		if clients[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		defer clients[i].Close()
	}
	// The clients' sockets are made first: only what the server side holds is measured.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	servers := make([]net.Conn, n)
	conns := make([]*Conn, n)
	done := make(chan struct{}, n)
	for i := range servers {
		if servers[i], err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
		if !wsx {
			go func(nc net.Conn) {
				var b [1]byte
				nc.Read(b[:])
				done <- struct{}{}
			}(servers[i])
			continue
		}
		conns[i] = newConn(servers[i], connConfig{})
		go func(c *Conn) {
			defer func() { done <- struct{}{} }()
			var buf []byte
			for {
				typ, p, err := c.ReadMessage(context.Background(), buf[:0])
				if err != nil {
					return
				}
				buf = p
				if c.Write(context.Background(), typ, buf) != nil {
					return
				}
			}
		}(conns[i])
	}
	if wsx {
		msg := frameBytes(true, 0, frame.OpBinary, true, make([]byte, 16))
		for _, client := range clients {
			client.Write(msg)
			(&rawPeer{t: t, nc: client, client: true}).readFrame()
		}
	}
	time.Sleep(50 * time.Millisecond) // every goroutine is parked
	runtime.GC()
	runtime.GC() // the pools' caches of working state, which no connection holds, go too
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	for _, s := range servers {
		s.Close()
	}
	for range servers {
		<-done
	}
	runtime.KeepAlive(conns)
	return per
}

// Writes that reuse one long-lived cancellable context (a hub's subscriber, a request's
// context) give the sending side's state back between calls like any others: the watch of the
// context stays with the Conn, and a write that blocks is still cut short by its cancellation.
func TestIdleStateWritesWithLongLivedContext(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sending := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.w.sendState != nil
	}
	if err := c.Write(ctx, MessageBinary, []byte("x")); err != nil {
		t.Fatal(err)
	}
	peer.readFrame()
	pm, err := NewPreparedMessage(MessageBinary, []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePrepared(ctx, pm); err != nil {
		t.Fatal(err)
	}
	peer.readFrame()
	if sending() {
		t.Fatal("the sending side keeps its state between writes with a long-lived context")
	}
	// A write the peer does not take blocks; cancelling the same context ends it.
	done := make(chan error, 1)
	go func() { done <- c.Write(ctx, MessageBinary, make([]byte, 64<<20)) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	awaitCanceled(t, done, "the blocked write")
}

// awaitCanceled waits for the error of a call whose context was just cancelled: it must be
// context.Canceled, and come within 5 s.
func awaitCanceled(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s after its context's cancellation: %v, want context.Canceled", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s ignored its context's cancellation", what)
	}
}

// A Ping on a connection nobody reads reads by itself until its Pong, and then gives the
// reading side's state and buffer back, its context's watch and deadline lifted: a connection
// the application only writes to (pinging it now and then) stays idle between pings.
func TestIdleStatePingWithoutReader(t *testing.T) {
	c, peer := serverWithRawClient(t, ConnOptions{})
	defer c.CloseNow()
	for range 2 {
		go func() {
			if h, p := peer.readFrame(); h.Opcode == frame.OpPing {
				peer.send(true, frame.OpPong, p)
			}
		}()
		if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		reading, watched := c.r.readState != nil, c.r.watch.stop != nil
		c.mu.Unlock()
		if reading || watched {
			t.Fatalf("after a Ping the reading side holds its state (%v) or watches Ping's context (%v)", reading, watched)
		}
	}
	// The next read takes a state again, and the read deadline Ping's context set is gone.
	go peer.send(true, frame.OpText, []byte("after"))
	if _, p, err := c.Read(context.Background()); err != nil || string(p) != "after" {
		t.Fatalf("read after Ping: %q, %v", p, err)
	}
}
