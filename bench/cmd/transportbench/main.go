// Command transportbench measures a wsx server over its three transports side by side:
// WebSockets over HTTP/1.1 (RFC 6455), HTTP/2 streams (RFC 8441, one TCP connection shared by
// all WebSockets) and HTTP/3 streams (RFC 9220, one QUIC connection). It reports the
// server's memory per idle WebSocket and its CPU time per echoed message.
//
//	go run ./cmd/transportbench                  # about a minute
//	go run ./cmd/transportbench -idle 1000 -conns 10 -size 16 -d 2s -reps 3
//
// The server is this binary started again (TRANSPORTBENCH_SERVE=1), a fresh process for
// every measurement: net/http over TLS with HTTP/1.1 and HTTP/2 (extended CONNECT turned on
// by the xconnect package) and quic-go's HTTP/3 on the same port, all answering with
// wsx.Accept and an echo loop in the handler. The parent is the client (wsx.Dial over each
// transport), on the same two cores: figures are for comparing the transports within one
// run, as ratios, not absolutes. Loopback only; every run is bounded by -d.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/h2transport"
	"github.com/wsx-go/wsx/h3transport"
	_ "github.com/wsx-go/wsx/xconnect"
)

const envServe = "TRANSPORTBENCH_SERVE"

func main() {
	if os.Getenv(envServe) != "" {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "transportbench server:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	flag.IntVar(&cfg.idle, "idle", 1000, "idle WebSockets for the memory figure")
	flag.IntVar(&cfg.conns, "conns", 10, "WebSockets echoing for the CPU figure, one message in flight each")
	flag.IntVar(&cfg.size, "size", 16, "message size in bytes")
	flag.DurationVar(&cfg.d, "d", 2*time.Second, "measured interval of each echo run")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions; figures are medians")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "transportbench:", err)
		os.Exit(1)
	}
}

type config struct {
	idle, conns, size, reps int
	d                       time.Duration
}

// A transport is one way to carry the WebSockets.
type transport struct {
	name string
	new  func() wsx.StreamTransport // nil: HTTP/1.1
}

var insecure = &tls.Config{InsecureSkipVerify: true}

var transports = []transport{
	{"HTTP/1.1", nil},
	{"HTTP/2", func() wsx.StreamTransport { return &h2transport.Transport{TLSConfig: insecure, NoFallback: true} }},
	{"HTTP/3", func() wsx.StreamTransport { return &h3transport.Transport{TLSConfig: insecure, NoFallback: true} }},
}

func run(cfg config) error {
	fmt.Printf("transportbench: %s, %d CPUs, %s; idle %d WebSockets; echo %d WebSockets x %d B for %v, median of %d\n\n",
		runtime.Version(), runtime.NumCPU(), time.Now().Format("2006-01-02"), cfg.idle, cfg.conns, cfg.size, cfg.d, cfg.reps)
	mem := make(map[string][]float64)
	cpu := make(map[string][]float64)
	for rep := range cfg.reps {
		// Transports interleaved, the order rotated by one each repetition.
		order := slices.Clone(transports)
		for range rep % len(order) {
			order = append(order[1:], order[0])
		}
		for _, tr := range order {
			b, err := idleBytes(cfg, tr)
			if err != nil {
				return fmt.Errorf("%s idle: %w", tr.name, err)
			}
			mem[tr.name] = append(mem[tr.name], b)
			us, err := echoCPU(cfg, tr)
			if err != nil {
				return fmt.Errorf("%s echo: %w", tr.name, err)
			}
			cpu[tr.name] = append(cpu[tr.name], us)
		}
	}
	fmt.Println("| transport | server RSS per idle WebSocket | server CPU µs per echoed message |")
	fmt.Println("|---|---|---|")
	base := transports[0].name
	for _, tr := range transports {
		m, c := median(mem[tr.name]), median(cpu[tr.name])
		fmt.Printf("| %s | %.0f B (x%.2f) | %.1f (x%.2f) |\n", tr.name, m, m/median(mem[base]), c, c/median(cpu[base]))
	}
	fmt.Printf("\nruns: memory %v, CPU %v\n", mem, cpu)
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// idleBytes opens cfg.idle WebSockets that then stay idle, and returns the growth of the
// server's RSS per WebSocket, after a GC on both sides of the measurement.
func idleBytes(cfg config, tr transport) (float64, error) {
	srv, err := startServer()
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	opts := srv.dialOptions(tr)
	// A few first, so that the HTTP/2 or QUIC connection and the TLS state are in the
	// baseline: the figure is what one more WebSocket costs.
	conns, err := dialN(srv, opts, 10)
	if err != nil {
		return 0, err
	}
	before, err := srv.rss()
	if err != nil {
		return 0, err
	}
	more, err := dialN(srv, opts, cfg.idle)
	conns = append(conns, more...)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	if err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	after, err := srv.rss()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(cfg.idle), nil
}

// dialN opens n WebSockets, 50 at a time.
func dialN(srv *server, opts *wsx.DialOptions, n int) ([]*wsx.Conn, error) {
	conns := make([]*wsx.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _, err := wsx.Dial(ctx, srv.url, opts)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return conns, nil
}

// echoCPU runs cfg.conns WebSockets that each echo one message after the other, and returns
// the server's CPU time per echoed message in µs.
func echoCPU(cfg config, tr transport) (float64, error) {
	srv, err := startServer()
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	conns, err := dialN(srv, srv.dialOptions(tr), cfg.conns)
	if err != nil {
		return 0, err
	}
	msg := make([]byte, cfg.size)
	var count atomic.Int64
	var measuring atomic.Bool
	stop := make(chan struct{})
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			defer c.CloseNow()
			ctx := context.Background()
			buf := make([]byte, 0, cfg.size)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.Write(ctx, wsx.MessageBinary, msg); err != nil {
					errs <- err
					return
				}
				_, got, err := c.ReadMessage(ctx, buf[:0])
				if err != nil || len(got) != len(msg) {
					errs <- fmt.Errorf("echo of %d bytes: %d, %v", len(msg), len(got), err)
					return
				}
				if measuring.Load() {
					count.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // warm-up
	cpu0, err := srv.cpu()
	if err != nil {
		return 0, err
	}
	measuring.Store(true)
	time.Sleep(cfg.d)
	measuring.Store(false)
	cpu1, err := srv.cpu()
	n := count.Load()
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("no message echoed")
	}
	return float64(cpu1-cpu0) / float64(n), nil
}

// server is a running server process.
type server struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	url string
	pid int
}

func startServer() (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envServe+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(out), pid: cmd.Process.Pid}
	line, err := s.out.ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("server did not start: %v", err)
	}
	s.url = "wss://" + strings.TrimSpace(strings.TrimPrefix(line, "addr ")) + "/"
	return s, nil
}

func (s *server) dialOptions(tr transport) *wsx.DialOptions {
	opts := &wsx.DialOptions{TLSConfig: insecure}
	if tr.new != nil {
		opts.Transport = tr.new()
	}
	return opts
}

// ask sends a command and returns the answer.
func (s *server) ask(cmd string) (string, error) {
	if _, err := io.WriteString(s.in, cmd+"\n"); err != nil {
		return "", err
	}
	line, err := s.out.ReadString('\n')
	return strings.TrimSpace(line), err
}

// cpu returns the server's user+system CPU time in µs.
func (s *server) cpu() (int64, error) {
	a, err := s.ask("cpu")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimPrefix(a, "cpu "), 10, 64)
}

// rss returns the server's resident set in bytes after a GC.
func (s *server) rss() (int64, error) {
	if _, err := s.ask("gc"); err != nil {
		return 0, err
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func (s *server) stop() {
	s.in.Close()
	s.cmd.Wait()
}

// serve is the server process: TLS on a loopback port with HTTP/1.1 and HTTP/2, HTTP/3 on the
// same UDP port; "addr <host:port>" on stdout, then one-line commands on stdin (cpu, gc).
func serve() error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		buf := make([]byte, 0, 4096)
		for {
			typ, msg, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				return
			}
			buf = msg[:0]
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	})
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	hs := &http.Server{Handler: echo, TLSConfig: tlsConfig, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 10000}}
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		return err
	}
	h3 := &http3.Server{
		Handler:    h3transport.Handler(echo),
		TLSConfig:  http3.ConfigureTLSConfig(tlsConfig.Clone()),
		QUICConfig: &quic.Config{MaxIncomingStreams: 10000}, // quic-go's default is 100
	}
	go hs.Serve(tls.NewListener(ln, tlsConfig))
	go h3.Serve(pc)
	fmt.Printf("addr %s\n", ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "cpu":
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			fmt.Printf("cpu %d\n", ru.Utime.Nano()/1e3+ru.Stime.Nano()/1e3)
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("ok")
		}
	}
	return nil
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
