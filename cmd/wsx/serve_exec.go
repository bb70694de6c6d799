package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
	"unicode/utf8"

	"github.com/wsx-go/wsx"
)

// execGrace is how long a command has to exit after its client left and its stdin was
// closed, before it is killed (with the processes it started).
const execGrace = 2 * time.Second

// exec runs the command of --exec for the connection: the messages of the client go to its
// stdin, its stdout comes back as messages. It returns why the connection ended: nil when
// the command's end closed it.
func (sc *serverConn) exec() error {
	s, c, id, path, st := sc.s, sc.c, sc.id, sc.path, &sc.st
	cmd := shellCommand(s.cfg.exec)
	cmd.Env = append(os.Environ(), "WSX_REMOTE_ADDR="+c.RemoteAddr().String(), "WSX_PATH="+path, "WSX_SUBPROTOCOL="+c.Subprotocol())
	cmd.Stderr = s.cfg.execStderr
	// Pipes of our own rather than StdinPipe: a write to a command that does not read its
	// stdin must time out.
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	cmd.Stdin = stdinR
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	stdinR.Close()
	if err != nil {
		c.Close(wsx.StatusInternalError, "the command did not start")
		return fmt.Errorf("--exec: %w", err)
	}
	s.log.Debug("command started", "conn", id, "pid", cmd.Process.Pid)

	outDone := make(chan error, 1)
	go func() { outDone <- s.execOutput(&sc.w, id, stdout, st) }()
	inDone := make(chan error, 1)
	go func() { inDone <- s.execInput(c, id, stdin, st) }()

	var clientErr error
	outEnded := false
	select {
	case <-outDone: // the command closed its stdout: it has exited, usually
		outEnded = true
	case clientErr = <-inDone: // the client closed, or the connection failed
	}
	waitErr := finishCommand(cmd, stdin, outDone, outEnded)
	s.log.Debug("command ended", "conn", id, "status", cmd.ProcessState.String())
	if clientErr != nil {
		return clientErr
	}
	code, reason := wsx.StatusNormalClosure, ""
	if waitErr != nil {
		code, reason = wsx.StatusInternalError, "the command failed: "+cmd.ProcessState.String()
		reason = reason[:min(len(reason), 123)] // §5.5: a control frame's payload is at most 125 bytes
	}
	if err := c.Close(code, reason); err != nil {
		return err
	}
	<-inDone
	return nil
}

// finishCommand closes the command's stdin, gives it execGrace to exit, kills it and the
// processes it started otherwise, and returns how it exited. outDone reports the end of its
// stdout (unless outEnded says it came already), which must be read before Wait.
func finishCommand(cmd *exec.Cmd, stdin *os.File, outDone <-chan error, outEnded bool) error {
	stdin.Close()
	grace := time.NewTimer(execGrace)
	defer grace.Stop()
	if !outEnded {
		select {
		case <-outDone:
		case <-grace.C:
			killCommand(cmd)
			<-outDone
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-grace.C:
		killCommand(cmd) // it closed its stdout but did not exit
		return <-exited
	}
}

// execInput writes the client's messages to the command's stdin until the connection ends,
// and returns why. After the command stops taking input (it closed its stdin, or took
// nothing for the write timeout), messages are read and dropped, so that the client's pings
// and Close are still answered.
func (s *server) execInput(c *wsx.Conn, id uint64, stdin *os.File, st *connStats) error {
	ctx := context.Background()
	var buf []byte
	taking := true
	for {
		typ, msg, err := c.ReadMessage(ctx, buf[:0])
		if err != nil {
			return err
		}
		st.msgsIn++
		st.bytesIn += int64(len(msg))
		if s.cfg.log.verbose {
			s.logMessage(id, "in", typ, msg)
		}
		if !s.cfg.execRaw {
			msg = append(msg, '\n')
		}
		if taking {
			stdin.SetWriteDeadline(time.Now().Add(s.cfg.timeouts.write))
			if _, err := stdin.Write(msg); err != nil {
				s.log.Debug("the command takes no more input", "conn", id, "err", err)
				taking = false
			}
		}
		buf = reuse(msg)
	}
}

// execReadSize is the most one read of a command's stdout takes with --exec-raw, and so the
// largest message it sends.
const execReadSize = 32 << 10

// execOutput sends what the command writes to its stdout until it closes it: a message per
// line, or per read with --exec-raw. It returns nil at the end of the output.
func (s *server) execOutput(wc *watchedConn, id uint64, stdout io.Reader, st *connStats) error {
	send := func(typ wsx.MessageType, msg []byte) error {
		if s.cfg.log.verbose {
			s.logMessage(id, "out", typ, msg)
		}
		if err := wc.write(context.Background(), typ, msg); err != nil {
			return err
		}
		st.msgsOut++
		st.bytesOut += int64(len(msg))
		return nil
	}
	if s.cfg.execRaw {
		buf := make([]byte, execReadSize)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				if err := send(wsx.MessageBinary, buf[:n]); err != nil {
					return err
				}
			}
			if err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	// A line longer than the read limit a client would apply by default goes in pieces of
	// that size, so that a command that never writes a newline cannot make us hold more.
	maxLine := int(wsx.DefaultReadLimit)
	br := bufio.NewReaderSize(stdout, 64<<10)
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if errors.Is(err, bufio.ErrBufferFull) && len(line) < maxLine {
			continue
		}
		if len(line) > 0 {
			msg := trimEOL(line)
			typ := wsx.MessageText
			if !utf8.Valid(msg) {
				typ = wsx.MessageBinary
			}
			if err := send(typ, msg); err != nil {
				return err
			}
			line = line[:0]
		}
		if err == io.EOF {
			return nil
		} else if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
