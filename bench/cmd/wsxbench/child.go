package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsx-go/wsx/bench/servers"
)

// The child learns which server to run from the environment rather than flags, so that a
// test binary can act as a child too.
const (
	envServe   = "WSXBENCH_SERVE"
	envDeflate = "WSXBENCH_DEFLATE"
	envFanout  = "WSXBENCH_FANOUT" // the library's fan-out server rather than its echo server
)

// serveFromEnv runs the server named by the environment and reports whether there was one.
func serveFromEnv() bool {
	lib := os.Getenv(envServe)
	if lib == "" {
		return false
	}
	if err := serveChild(lib, os.Getenv(envDeflate) == "true", os.Getenv(envFanout) == "true"); err != nil {
		fmt.Fprintln(os.Stderr, "wsxbench server:", err)
		os.Exit(1)
	}
	return true
}

// The server process. It is this same binary started with WSXBENCH_SERVE set; the parent talks to it
// with one-line commands on its stdin and reads one-line answers on file descriptor 3, so
// that whatever a library logs on stdout or stderr cannot get in the way.
//
//	cpu           → "cpu <µs>"   user+system CPU time of the whole process (getrusage)
//	gc            → "ok"         runtime.GC and debug.FreeOSMemory, before reading VmRSS
//	mem           → "mem <heap> <stacks>"   bytes of heap in use and of goroutine stacks
//	allocs        → "allocs <n>" heap objects allocated so far (runtime/metrics, no stop-the-world)
//	writes        → "writes <n>" write system calls so far (syscw of /proc/self/io)
//	prof <path>   → "ok"         start a CPU profile
//	stopprof      → "ok"
//	heap <path>   → "ok"         write a heap profile
//
// The server exits when its stdin closes, so it never outlives the parent.
func serveChild(lib string, deflate, fanout bool) error {
	l, err := servers.Get(lib)
	if err != nil {
		return err
	}
	if l.Pending != "" {
		return errors.New(l.Pending)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serve := l.Serve
	if fanout {
		serve = l.Fanout
	}
	if serve == nil {
		return errors.New("no such server for " + lib)
	}
	srv, err := serve(ln, servers.Options{Deflate: deflate})
	if err != nil {
		return err
	}
	defer srv.Close()
	ctrl := os.NewFile(3, "ctrl")
	fmt.Fprintf(ctrl, "ready %s %d\n", ln.Addr(), runtime.GOMAXPROCS(0))
	sc := bufio.NewScanner(os.Stdin)
	var prof *os.File
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		reply := "ok"
		switch cmd {
		case "cpu":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				reply = "error " + err.Error()
				break
			}
			reply = fmt.Sprintf("cpu %d", ru.Utime.Nano()/1e3+ru.Stime.Nano()/1e3)
		case "allocs":
			m := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
			metrics.Read(m)
			reply = fmt.Sprintf("allocs %d", m[0].Value.Uint64())
		case "writes":
			n, err := writeSyscalls()
			if err != nil {
				reply = "error " + err.Error()
				break
			}
			reply = fmt.Sprintf("writes %d", n)
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
		case "mem":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			reply = fmt.Sprintf("mem %d %d", ms.HeapInuse, ms.StackInuse)
		case "prof":
			if prof, err = os.Create(arg); err == nil {
				err = pprof.StartCPUProfile(prof)
			}
			if err != nil {
				reply = "error " + err.Error()
			}
		case "stopprof":
			pprof.StopCPUProfile()
			if prof != nil {
				prof.Close()
			}
		case "heap":
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			if err != nil {
				reply = "error " + err.Error()
			}
		default:
			reply = "error unknown command " + cmd
		}
		fmt.Fprintln(ctrl, reply)
	}
	return nil
}

// child is the parent's handle on a server process.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	ctrl *os.File // answers from the server
	out  *bufio.Reader
	addr string
	done chan error
	once sync.Once
}

// pid returns the server's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// startChild starts the server for lib, its fan-out server if fanout is set, pinned to cpu
// (if cpu >= 0); with callgrind set, under valgrind's callgrind writing to that file, its
// instrumentation (and so its counting) off until callgrindControl turns it on.
func startChild(lib string, deflate, fanout bool, cpu int, verbose bool, callgrind string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	start := 10 * time.Second
	env := append(os.Environ(), envServe+"="+lib, envDeflate+"="+strconv.FormatBool(deflate),
		envFanout+"="+strconv.FormatBool(fanout))
	cmd.Env = env
	if callgrind != "" {
		cmd = exec.Command("valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file="+callgrind, exe)
		// Valgrind knows no RDTSCP, which Go's runtime uses when the CPU has it, and
		// callgrind trips over the signals of asynchronous preemption.
		cmd.Env = append(env, "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",cpu.rdtscp=off,asyncpreemptoff=1", ","))
		start = time.Minute
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if verbose {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{w}
	err = startPinned(cmd, cpu)
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	c := &child{cmd: cmd, in: in, ctrl: r, out: bufio.NewReader(r), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	line, err := c.readLine(start)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s server did not start: %v", lib, err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		c.stop()
		return nil, fmt.Errorf("%s server: %q", lib, line)
	}
	c.addr = f[1]
	if cpu >= 0 && f[2] != "1" {
		fmt.Fprintf(os.Stderr, "wsxbench: warning: %s server runs with GOMAXPROCS=%s, not pinned to one core\n", lib, f[2])
	}
	return c, nil
}

func (c *child) readLine(timeout time.Duration) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.out.ReadString('\n')
		ch <- result{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case err := <-c.done:
		c.done <- err
		return "", fmt.Errorf("server exited: %v", err)
	case <-time.After(timeout):
		return "", errors.New("server did not answer")
	}
}

// call sends one command and returns the answer.
func (c *child) call(cmd string) (string, error) {
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		return "", err
	}
	s, err := c.readLine(30 * time.Second)
	if err == nil && strings.HasPrefix(s, "error ") {
		err = errors.New(s[len("error "):])
	}
	return s, err
}

// cpu returns the server's CPU time so far in microseconds.
func (c *child) cpu() (int64, error) {
	s, err := c.call("cpu")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "cpu "), 10, 64)
}

// allocs returns how many heap objects the server has allocated so far.
func (c *child) allocs() (int64, error) {
	s, err := c.call("allocs")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "allocs "), 10, 64)
}

// writes returns how many write system calls (write, writev) the server has made so far.
func (c *child) writes() (int64, error) {
	s, err := c.call("writes")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "writes "), 10, 64)
}

// writeSyscalls returns this process's count of write system calls (Linux).
func writeSyscalls() (int64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no syscw in /proc/self/io")
}

// mem returns the server's heap in use and goroutine stack bytes.
func (c *child) mem() (heap, stack int64, err error) {
	s, err := c.call("mem")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscanf(s, "mem %d %d", &heap, &stack)
	return heap, stack, err
}

// rss returns the server's resident set in bytes (VmRSS of /proc/<pid>/status).
func (c *child) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// stop ends the server: closing stdin asks it to exit; a server that does not within a few
// seconds is killed.
func (c *child) stop() {
	c.once.Do(func() {
		c.in.Close()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second): // callgrind takes its time to write its counts
			c.cmd.Process.Kill()
			<-c.done
		}
		c.ctrl.Close()
	})
}
