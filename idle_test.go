//go:build !js

package wsx

import (
	"context"
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

// A Conn is allocated in the runtime's 1,536-byte size class. The runtime puts an 8-byte header
// before an object of more than 512 bytes that holds pointers, so the struct itself must stay
// within 1,528 bytes; past that every connection costs 256 bytes more (the next class is
// 1,792). Measured, not computed, so that it follows the runtime.
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
	if per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(conns)); per > 1536 {
		t.Errorf("a Conn (%d bytes) takes %d bytes of heap, past the 1,536-byte size class", unsafe.Sizeof(Conn{}), per)
	}
}
