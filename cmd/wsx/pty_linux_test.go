package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// A pseudo-terminal for running the built wsx as a person at a terminal would, opened with
// nothing but the syscall package (Linux's /dev/ptmx, pts(4)).

// ptyProc is the wsx binary running with a pseudo-terminal as its stdin, stdout and stderr.
type ptyProc struct {
	cmd    *exec.Cmd
	master *os.File
	done   chan struct{} // closed when the process has exited and its output is read

	mu  sync.Mutex
	out bytes.Buffer // everything written to the terminal, "\r\n" turned into "\n"
}

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// startPTY runs the wsx binary with args on a new pseudo-terminal, with echo off so that the
// output holds only what wsx writes. The terminal is the process's controlling terminal, so
// that ^C sends it SIGINT.
func startPTY(t *testing.T, args ...string) *ptyProc {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	if err := ioctl(master.Fd(), syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	var n uint32
	if err := ioctl(master.Fd(), syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var tio syscall.Termios
	if err := ioctl(tty.Fd(), syscall.TCGETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= syscall.ECHO
	if err := ioctl(tty.Fd(), syscall.TCSETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}

	p := &ptyProc{master: master, done: make(chan struct{})}
	p.cmd = exec.Command(wsxBinary(t), args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(bytes.ReplaceAll(buf[:n], []byte("\r\n"), []byte("\n")))
			p.mu.Unlock()
			if err != nil { // EIO once the last holder of the terminal has closed it
				return
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		<-read
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// output returns what the terminal showed so far.
func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// typeText writes s to the terminal as if typed: "\x04" is ^D, "\x03" is ^C.
func (p *ptyProc) typeText(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the terminal shows want, and fails t after 20 seconds without it.
func (p *ptyProc) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", want, p.output())
		}
		select {
		case <-p.done:
			if !strings.Contains(p.output(), want) {
				t.Fatalf("wsx exited (%v) without showing %q; the terminal shows:\n%s", p.cmd.ProcessState, want, p.output())
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *ptyProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("wsx did not exit; the terminal shows:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}
