package hostile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Target is a server under attack.
type Target interface {
	Address() string // host:port
	// Reset collects garbage in the server if it can, and restarts its peaks.
	Reset() error
	// Stat reports the server's memory and connections; after a GC when gc is set, if it can.
	Stat(gc bool) (Stat, error)
}

// Server is a server process under attack, started by StartServer.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
}

// StartServer starts this program again as a wsx server with cfg (see ServeFromEnv, which
// the program must call first).
func StartServer(cfg ServerConfig) (*Server, error) {
	js, _ := json.Marshal(cfg)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envServe+"="+string(js))
	cmd.Stderr = os.Stderr
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
	s := &Server{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	line, err := s.line()
	if err != nil {
		s.Close()
		return nil, err
	}
	addr, ok := strings.CutPrefix(line, "addr ")
	if !ok {
		s.Close()
		return nil, fmt.Errorf("server said %q", line)
	}
	s.Addr = addr
	return s, nil
}

// Address returns the address the server listens on.
func (s *Server) Address() string { return s.Addr }

func (s *Server) line() (string, error) {
	if !s.out.Scan() {
		if err := s.out.Err(); err != nil {
			return "", err
		}
		return "", errors.New("the server process ended")
	}
	return s.out.Text(), nil
}

func (s *Server) command(cmd string) (string, error) {
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		return "", err
	}
	return s.line()
}

// Reset collects garbage in the server, gives memory back to the OS and restarts the peaks.
func (s *Server) Reset() error {
	_, err := s.command("reset")
	return err
}

// Stat reports the server's memory and connections; after a GC when gc is set.
func (s *Server) Stat(gc bool) (Stat, error) {
	cmd := "stat"
	if gc {
		cmd = "gc"
	}
	var st Stat
	line, err := s.command(cmd)
	if err == nil {
		err = json.Unmarshal([]byte(line), &st)
	}
	return st, err
}

// HeapProfile writes a heap profile of the server to path.
func (s *Server) HeapProfile(path string) error {
	_, err := s.command("heap " + path)
	return err
}

// Close ends the server process.
func (s *Server) Close() error {
	s.in.Close()
	return s.cmd.Wait()
}

// Process is a server started by somebody else (such as wsx serve), known by its address and
// process id: only its RSS and CPU time are known.
type Process struct {
	Addr string
	Pid  int
}

// Address returns the address the server listens on.
func (p *Process) Address() string { return p.Addr }

// Reset restarts the process's peak RSS.
func (p *Process) Reset() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.Pid), []byte("5"), 0)
}

// Stat reports the process's RSS, peak RSS and CPU time.
func (p *Process) Stat(bool) (Stat, error) {
	var st Stat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return st, err
	}
	st.RSS, st.RSSPeak = statusField(string(b), "VmRSS:"), statusField(string(b), "VmHWM:")
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return st, err
	}
	// After the command name in parentheses: fields 3 on; utime and stime are 14 and 15, in
	// clock ticks (100 a second on Linux).
	if i := strings.LastIndexByte(string(b), ')'); i > 0 {
		f := strings.Fields(string(b)[i+1:])
		if len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			stt, _ := strconv.ParseInt(f[12], 10, 64)
			st.CPU = time.Duration(ut+stt) * 10 * time.Millisecond
		}
	}
	return st, nil
}
