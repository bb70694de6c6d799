package hostile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

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

// Close ends the server process.
func (s *Server) Close() error {
	s.in.Close()
	return s.cmd.Wait()
}
