package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsx-go/wsx"
)

// runIdle is wsx bench --idle: it opens the connections (with --conns 0 as many as the
// open-file limit allows), echoes one message on each so that the server holds what a used
// connection holds, keeps them idle for --duration, and reports the server's memory per
// connection when it can read it: when the server is a process of this machine whose /proc
// entry this user may read.
func (b *bench) runIdle(ctx context.Context) int {
	cfg := b.cfg
	if cfg.conns == 0 {
		cfg.conns = maxConns()
	}
	fmt.Fprintf(b.e.stdout, "wsx bench %s: %d idle connections, held for %s\n", b.url, cfg.conns, cfg.duration)
	pid := serverPID(b.target.url)
	before := processRSS(pid)
	conns, st := b.dialAll(ctx)
	defer func() {
		for _, bc := range conns {
			bc.c.CloseNow()
		}
	}()
	if len(conns) == 0 {
		return exitFail
	}
	payload := make([]byte, cfg.size)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var echoErr error
	for _, bc := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ectx, cancel := context.WithTimeout(ctx, cfg.timeout)
			defer cancel()
			err := bc.c.Write(ectx, wsx.MessageBinary, payload)
			if err == nil {
				_, _, err = bc.c.Read(ectx)
			}
			if err != nil {
				mu.Lock()
				echoErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if echoErr != nil {
		fmt.Fprintf(b.e.stderr, "wsx bench: a connection did not echo: %v\n", echoErr)
		return exitFail
	}
	time.Sleep(time.Second) // what the server does after a handshake and a message
	if after := processRSS(pid); before > 0 && after > 0 {
		fmt.Fprintf(b.e.stdout, "server (pid %d): RSS %s before, %s with %d idle connections: %d bytes per connection\n",
			pid, formatSize(before), formatSize(after), len(conns), (after-before)/int64(len(conns)))
	} else {
		fmt.Fprintln(b.e.stdout, "server memory: not readable from here (not a process of this machine, or its /proc entry is another user's)")
	}
	select {
	case <-ctx.Done():
	case <-time.After(cfg.duration):
	}
	if st.failed > 0 {
		return exitFail
	}
	return exitOK
}

// maxConns returns how many connections this process can open at its open-file limit (which
// Go raises to the hard limit at start), keeping some descriptors for everything else.
func maxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 1000 {
		return 1000
	}
	return int(min(rl.Cur, 1<<22)) - 64
}

// serverPID returns the process listening on the port of rawURL on this machine, found in
// /proc (Linux): the listening socket's inode in /proc/net/tcp or tcp6, then the process with
// that socket among its descriptors. It returns 0 when there is none to be found.
func serverPID(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
	}
	if ips, err := net.LookupIP(u.Hostname()); err != nil || len(ips) == 0 || !ips[0].IsLoopback() && !isLocal(ips[0]) {
		return 0
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// local_address is HEXIP:HEXPORT; st 0A is LISTEN; the inode is the tenth field.
			if len(fs) > 9 && fs[3] == "0A" && strings.HasSuffix(fs[1], fmt.Sprintf(":%04X", p)) {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// isLocal reports whether ip is an address of this machine.
func isLocal(ip net.IP) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// processRSS returns the resident memory of process pid in bytes (VmRSS), or 0.
func processRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
