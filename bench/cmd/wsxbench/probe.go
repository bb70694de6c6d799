package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A perfProbe is a perf(1) command attached to a server process for a run, counting or
// sampling only between the two marks of the measured interval: it starts with its events
// disabled and the marks enable and disable them through perf's control pipe (--control),
// so attaching late or stopping late costs nothing in accuracy.
type perfProbe struct {
	cmd  *exec.Cmd
	ctl  *os.File
	ack  *bufio.Reader
	ackf *os.File
	out  string // perf stat's output file, or perf record's data file
	done chan error
	once sync.Once
	err  error
}

// Counted system calls: all of them, and the ones a server's message path makes.
var syscallEvents = []string{"raw_syscalls:sys_enter", "syscalls:sys_enter_read", "syscalls:sys_enter_write",
	"syscalls:sys_enter_writev", "syscalls:sys_enter_epoll_pwait", "syscalls:sys_enter_futex"}

// syscallNames are the columns of the report's system call table, in syscallEvents order.
var syscallNames = []string{"all", "read", "write", "writev", "epoll_pwait", "futex"}

// startSyscallCount attaches perf stat to pid, counting system calls.
func startSyscallCount(pid int, out string) (*perfProbe, error) {
	return startPerf(out, "stat", "-x", ",", "-o", out, "-e", strings.Join(syscallEvents, ","), "-p", strconv.Itoa(pid))
}

// startPerfRecord attaches perf record to pid: CPU-clock samples with call graphs, kernel
// included, into out.
func startPerfRecord(pid int, out string) (*perfProbe, error) {
	return startPerf(out, "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-o", out, "-p", strconv.Itoa(pid))
}

func startPerf(out string, args ...string) (*perfProbe, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ackR, ackW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, err
	}
	// perf sees the pipes as descriptors 3 and 4.
	args = append([]string{args[0], "-D", "-1", "--control", "fd:3,4"}, args[1:]...)
	cmd := exec.Command("perf", args...)
	cmd.ExtraFiles = []*os.File{ctlR, ackW}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	ctlR.Close()
	ackW.Close()
	if err != nil {
		ctlW.Close()
		ackR.Close()
		return nil, fmt.Errorf("perf: %w", err)
	}
	p := &perfProbe{cmd: cmd, ctl: ctlW, ack: bufio.NewReader(ackR), ackf: ackR, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// command sends "enable" or "disable" and waits for perf's acknowledgement.
func (p *perfProbe) command(c string) error {
	if _, err := p.ctl.WriteString(c + "\n"); err != nil {
		return fmt.Errorf("perf %s: %w", c, err)
	}
	ack := make(chan error, 1)
	go func() {
		line, err := p.ack.ReadString('\n')
		if err == nil && strings.Trim(line, "\x00 \n") != "ack" {
			err = fmt.Errorf("perf answered %q", line)
		}
		ack <- err
	}()
	select {
	case err := <-ack:
		return err
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("perf exited: %v", err)
	case <-time.After(10 * time.Second):
		return errors.New("perf did not acknowledge " + c)
	}
}

// stop ends perf (SIGINT makes it write its output) and waits for it; later calls return
// what the first one did.
func (p *perfProbe) stop() error {
	p.once.Do(func() { p.err = p.end() })
	return p.err
}

func (p *perfProbe) end() error {
	p.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		err = <-p.done
	}
	p.ctl.Close() // not before: perf record stops without its data on a closed control pipe
	p.ackf.Close()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == -1 || ok && ee.ExitCode() == 130 {
		err = nil // ended by our SIGINT
	}
	return err
}

// syscallCounts reads perf stat's output: the count of every event, in syscallEvents order.
func (p *perfProbe) syscallCounts() ([]float64, error) {
	b, err := os.ReadFile(p.out)
	if err != nil {
		return nil, err
	}
	counts := make([]float64, len(syscallEvents))
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		for i, ev := range syscallEvents {
			if f[2] == ev {
				v, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					return nil, fmt.Errorf("perf stat: %s: %q", ev, f[0])
				}
				counts[i] = v
				found++
			}
		}
	}
	if found != len(syscallEvents) {
		return nil, fmt.Errorf("perf stat: %d of %d events in %s", found, len(syscallEvents), p.out)
	}
	return counts, nil
}

// callgrindControl toggles instruction counting in a server that runs under callgrind.
func callgrindControl(pid int, on bool) error {
	arg := "off"
	if on {
		arg = "on"
	}
	out, err := exec.Command("callgrind_control", "-i", arg, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind_control -i %s: %v: %s", arg, err, out)
	}
	return nil
}

// callgrindTotal reads the instruction count (Ir) that callgrind wrote to path when the server
// exited.
func callgrindTotal(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// "summary:" holds the count at the moment of the dump, 0 with instrumentation off by
	// then; "totals:" all that was counted.
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "totals:"); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no totals in %s", path)
}
