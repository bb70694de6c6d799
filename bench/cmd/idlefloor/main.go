// Command idlefloor measures what a goroutine-per-connection Go server pays for an idle
// connection before any library: one goroutine blocked in net.Conn.Read on each accepted TCP
// connection, nothing else. Its RSS, Go heap and goroutine stacks per connection are measured
// as wsxbench measures a library's (after a GC that returns free memory to the OS), so the
// difference between the two is what the library adds; the clients run in a child process, so
// that only the server's side is counted.
//
// Usage (from the bench directory; loopback only, bounded by -conns and the open-file limit,
// it stops by itself):
//
//	go run ./cmd/idlefloor [-conns 10000]
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wsx-go/wsx/bench/load"
)

func main() {
	conns := flag.Int("conns", 10000, "connections to hold (the open-file limit bounds it)")
	flag.Parse()
	log.SetFlags(0)
	if addr := os.Getenv(dialEnv); addr != "" {
		holdClients(addr)
		return
	}
	n := min(*conns, load.RaiseFileLimit())
	per, err := measureFloor(n)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d idle connections, a goroutine blocked in net.Conn.Read each; per connection: RSS %d B (Go heap %d, goroutine stacks %d, the rest %d)\n",
		n, per.rss, per.heap, per.stack, per.rss-per.heap-per.stack)
}

// dialEnv, in the environment of the child process, is the address it dials; connsEnv how
// many times.
const (
	dialEnv  = "IDLEFLOOR_DIAL"
	connsEnv = "IDLEFLOOR_CONNS"
)

// measureFloor accepts conns connections from a child process, parks a goroutine in
// net.Conn.Read on each, and returns the growth of the process's memory per connection.
func measureFloor(conns int) (memory, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return memory{}, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, conns)
	go func() {
		var b [1]byte
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
			go c.Read(b[:]) // the idle connection: blocked until the peer sends or goes
		}
	}()
	held := make([]net.Conn, 0, conns)
	before := measure()
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), dialEnv+"="+ln.Addr().String(), fmt.Sprintf("%s=%d", connsEnv, conns))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return memory{}, err
	}
	defer child.Wait()
	defer child.Process.Kill()
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range conns {
		select {
		case c := <-accepted:
			held = append(held, c)
		case <-time.After(30 * time.Second):
			return memory{}, fmt.Errorf("idlefloor: %d of %d clients connected", len(held), conns)
		}
	}
	time.Sleep(200 * time.Millisecond) // let every goroutine reach its Read
	after := measure()
	n := int64(conns)
	return memory{rss: (after.rss - before.rss) / n, heap: (after.heap - before.heap) / n, stack: (after.stack - before.stack) / n}, nil
}

// holdClients dials addr as many times as connsEnv says and keeps the connections open until
// the parent kills it (a minute at most).
func holdClients(addr string) {
	var n int
	fmt.Sscan(os.Getenv(connsEnv), &n)
	cs := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		cs = append(cs, c)
	}
	time.Sleep(time.Minute)
	runtime.KeepAlive(cs)
}

type memory struct{ rss, heap, stack int64 }

// measure returns the process's memory after a GC that returns free memory to the OS.
func measure() memory {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(100 * time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{rss: vmRSS(), heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse)}
}

// vmRSS returns the process's resident set in bytes (VmRSS of /proc/self/status).
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(v, "%d", &kb)
			return kb << 10
		}
	}
	log.Fatal("idlefloor: no VmRSS in /proc/self/status")
	return 0
}
