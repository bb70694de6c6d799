package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/bench/load"
)

// ServerConfig is the wsx server under attack: net/http with wsx.Accept, permessage-deflate
// on, every message echoed.
type ServerConfig struct {
	ReadLimit          int64         // ConnOptions.ReadLimit; 0: the default
	StallTimeout       time.Duration // ConnOptions.StallTimeout; 0: the default
	MessageMemoryLimit int64         // SetMessageMemoryLimit; 0: the default
	// Loop is how a handler reads: "" is the README's loop (ReadMessage into a reused buffer
	// that starts at 4 KiB and is kept when a message grew it, Write the echo); "reader"
	// streams each message through Reader and echoes nothing.
	Loop string
}

// Stat is what the server reports of itself.
type Stat struct {
	Heap       uint64 // heap objects now, live and not yet swept (runtime/metrics)
	HeapPeak   uint64 // the most Heap was, sampled every millisecond since the last reset
	Live       uint64 // live heap after the last GC
	Allocated  uint64 // bytes allocated on the heap so far
	RSS        uint64 // resident set size now (VmRSS)
	RSSPeak    uint64 // the most it was since the last reset (VmHWM)
	Goroutines int
	CPU        time.Duration // user and system CPU time of the process so far
	Open       int64         // WebSocket connections being served
	Ended      map[int]int64 // connections ended, by the status of their end (wsx.CloseStatus)
}

// The server process is the program itself started with envServe set to its configuration
// (JSON); it prints "addr HOST:PORT" on stdout, then answers one-line commands on stdin:
//
//	reset → "ok"      GC, give memory back to the OS, restart the peaks
//	stat  → a Stat in JSON
//	gc    → a Stat in JSON, after a GC (Live is then the live heap)
//	heap PATH → "ok" after writing a heap profile to PATH
//
// It exits when its stdin closes, so that it never outlives its parent.
const envServe = "WSXHOSTILE_SERVE"

// ServeFromEnv runs the server process when the environment asks for one, and then exits;
// it returns at once otherwise. Call it first in main or TestMain.
func ServeFromEnv() {
	js := os.Getenv(envServe)
	if js == "" {
		return
	}
	var cfg ServerConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "wsxhostile server:", err)
		os.Exit(2)
	}
	if err := serve(cfg, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wsxhostile server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// server is the state of the server process.
type server struct {
	cfg  ServerConfig
	opts wsx.AcceptOptions

	open  atomic.Int64
	mu    sync.Mutex
	ended map[int]int64

	peak atomic.Uint64
}

func serve(cfg ServerConfig, in io.Reader, out io.Writer) error {
	load.RaiseFileLimit()
	if cfg.MessageMemoryLimit != 0 {
		wsx.SetMessageMemoryLimit(cfg.MessageMemoryLimit)
	}
	s := &server{cfg: cfg, ended: map[int]int64{}}
	s.opts = wsx.AcceptOptions{
		Compression: &wsx.CompressionOptions{},
		ConnOptions: wsx.ConnOptions{ReadLimit: cfg.ReadLimit, StallTimeout: cfg.StallTimeout},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	stop := make(chan struct{})
	defer close(stop)
	go s.sample(stop)

	fmt.Fprintf(out, "addr %s\n", ln.Addr())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "heap":
			runtime.GC()
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Fprintln(out, "ok", err)
		case "reset":
			runtime.GC()
			debug.FreeOSMemory()
			os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
			s.peak.Store(heapObjects())
			fmt.Fprintln(out, "ok")
		case "gc":
			runtime.GC()
			fallthrough
		case "stat":
			js, _ := json.Marshal(s.stat())
			fmt.Fprintf(out, "%s\n", js)
		default:
			fmt.Fprintln(out, "unknown command")
		}
	}
	return sc.Err()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := wsx.Accept(w, r, &s.opts)
	if err != nil {
		return
	}
	defer c.CloseNow()
	s.open.Add(1)
	ctx := context.Background()
	if s.cfg.Loop == "reader" {
		for {
			if _, rd, err := c.Reader(ctx); err != nil {
				break
			} else if _, err = io.Copy(io.Discard, rd); err != nil {
				break
			}
		}
	} else {
		buf := make([]byte, 0, 4096)
		for {
			typ, msg, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				break
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				break
			}
			buf = msg[:0] // keep a buffer that grew, as the README's loop does
		}
	}
	_, _, err = c.Read(ctx) // the error again: it is sticky
	s.open.Add(-1)
	s.mu.Lock()
	s.ended[int(wsx.CloseStatus(err))]++
	s.mu.Unlock()
}

// sample keeps the peak of the heap, every millisecond.
func (s *server) sample(stop <-chan struct{}) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		h := heapObjects()
		for {
			p := s.peak.Load()
			if h <= p || s.peak.CompareAndSwap(p, h) {
				break
			}
		}
	}
}

func (s *server) stat() Stat {
	st := Stat{Heap: heapObjects(), HeapPeak: s.peak.Load(), Goroutines: runtime.NumGoroutine(), Open: s.open.Load()}
	smp := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(smp)
	st.Live, st.Allocated = smp[0].Value.Uint64(), smp[1].Value.Uint64()
	st.RSS, st.RSSPeak = procStatus("VmRSS:"), procStatus("VmHWM:")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		st.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.mu.Lock()
	st.Ended = make(map[int]int64, len(s.ended))
	for k, v := range s.ended {
		st.Ended[k] = v
	}
	s.mu.Unlock()
	return st
}

// heapObjects is the memory the heap's objects take, live or not yet swept.
func heapObjects() uint64 {
	smp := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(smp)
	return smp[0].Value.Uint64()
}

// held is the memory the server holds: its live heap, or its RSS when that is unknown.
func (st Stat) held() uint64 {
	if st.Live == 0 {
		return st.RSS
	}
	return st.Live
}

// procStatus reads a field of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return statusField(string(b), field)
}

// statusField returns a field of a /proc/PID/status text, in bytes.
func statusField(status, field string) uint64 {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
