// Command socketcost measures what the kernel holds for an idle TCP connection on this
// machine, the figure that wsx's plan for a million connections (README, "Event mode") is
// built on: the memory of a socket pair (/proc/meminfo's slab, both ends on loopback) and of
// one epoll watch, with the connections idle after one small message each way, as a server's
// are after an echo.
//
// Usage (from the bench directory; loopback only, bounded by -conns and the open-file limit,
// it stops by itself):
//
//	go run ./cmd/socketcost [-conns 10000]
//
// Other processes allocate kernel memory too; run it on a quiet machine, and more than once.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsx-go/wsx/bench/load"
)

func main() {
	conns := flag.Int("conns", 10000, "connections to open (two sockets each; the open-file limit bounds it)")
	flag.Parse()
	log.SetFlags(0)

	*conns = min(*conns, load.RaiseFileLimit()/2) // two sockets a connection

	r, err := measure(*conns)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("socketcost, %s: Linux %s, %d idle loopback connections\n",
		time.Now().Format("2006-01-02"), kernelRelease(), r.conns)
	// Every net.Conn is also in the Go runtime's own epoll set, so a socket's figure holds one
	// watch: that of a connection of package event, which accepts with accept4 and watches
	// each socket in its own set only.
	fmt.Printf("kernel memory per TCP socket, with one epoll watch (half of a loopback pair): %.0f B\n", r.perSocket)
	fmt.Printf("kernel memory per further epoll watch: %.0f B\n", r.perWatch)
}

// result is what measure found.
type result struct {
	conns     int
	perSocket float64 // bytes of slab per TCP socket, with the runtime's epoll watch
	perWatch  float64 // bytes of slab per further epoll watch
}

// measure opens conns loopback connections, idle after one small message each way, then
// watches their server sides in an epoll set, and reads the kernel's slab memory before and
// after each step. Everything it opened is closed when it returns.
func measure(conns int) (r result, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	defer ln.Close()
	var clients, servers []net.Conn
	defer func() {
		for _, c := range append(clients, servers...) {
			c.Close()
		}
	}()

	settle()
	before := slab()
	msg := make([]byte, 64)
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return r, err
		}
		clients = append(clients, c)
		s, err := ln.Accept()
		if err != nil {
			return r, err
		}
		servers = append(servers, s)
		// One small message each way, read at once: the buffers the kernel allocates for it
		// are freed again, as after a server's echo.
		for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
			if _, err := pair[0].Write(msg); err != nil {
				return r, err
			}
			if _, err := io.ReadFull(pair[1], msg); err != nil {
				return r, err
			}
		}
	}
	settle()
	opened := slab()

	// The server's sockets in an epoll set of their own, as package event holds them.
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return r, err
	}
	defer syscall.Close(epfd)
	for _, s := range servers {
		raw, err := s.(*net.TCPConn).SyscallConn()
		if err != nil {
			return r, err
		}
		var addErr error
		raw.Control(func(fd uintptr) {
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
			addErr = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		})
		if addErr != nil {
			return r, addErr
		}
	}
	settle()
	watched := slab()

	n := float64(conns)
	return result{conns, float64(opened-before) / (2 * n), float64(watched-opened) / n}, nil
}

// settle lets the runtime and the kernel free what they are about to free (the deferred
// freeing of sockets' memory by RCU) before a measurement.
func settle() {
	runtime.GC()
	time.Sleep(time.Second)
}

// slab returns the kernel's slab memory in bytes (/proc/meminfo's Slab), where sockets,
// their files and epoll's items live.
func slab() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "Slab:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				log.Fatal(err)
			}
			return kb * 1024
		}
	}
	log.Fatal("no Slab line in /proc/meminfo")
	return 0
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}
