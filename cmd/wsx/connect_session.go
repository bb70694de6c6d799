package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

// Backoff of --reconnect: the first delay, the longest, and how long a connection must have
// lasted for the next delay to start again from the first.
const (
	reconnectMin   = 500 * time.Millisecond
	reconnectMax   = 30 * time.Second
	reconnectReset = 30 * time.Second
)

// client is one run of wsx connect: one connection, or a series of them with --reconnect,
// fed by one input.
type client struct {
	cfg    *connectConfig
	e      *env
	target *target
	out    *printer

	inputs    <-chan inputMessage // closed at the end of the input
	typing    bool                // the input is a person at a terminal: its end closes at once
	waitUntil time.Time           // when the input ended and --wait is set: when to close
	received  atomic.Int64        // messages received, over all connections, for --count
}

func (cl *client) run(ctx context.Context) int {
	done := make(chan struct{})
	defer close(done)
	inputs, err := readInput(cl.e, cl.cfg, cl.out, done)
	if err != nil {
		fmt.Fprintf(cl.e.stderr, "wsx connect: %v\n", err)
		return exitFail
	}
	cl.inputs = inputs
	cl.typing = cl.e.interactive && len(cl.cfg.send) == 0 && cl.cfg.sendFile == ""

	backoff := reconnectMin
	status := exitFail // until a connection opens
	for {
		c, resp, err := cl.target.dial(ctx, cl.cfg.timeout, cl.e.stderr, "wsx connect")
		if err == nil {
			start := time.Now()
			var final bool
			status, final = cl.session(ctx, c, resp)
			if final || !cl.cfg.reconnect {
				return cl.finish(status)
			}
			if time.Since(start) >= reconnectReset {
				backoff = reconnectMin
			}
		} else if !cl.cfg.reconnect || ctx.Err() != nil {
			fmt.Fprintf(cl.e.stderr, "wsx connect: for a step-by-step check of the handshake, run: wsx doctor %s\n", cl.target.display)
			return exitFail
		}
		// Up to a fifth less than the backoff, so that clients dropped together do not come
		// back together.
		delay := backoff - time.Duration(rand.Int64N(int64(backoff/5)))
		cl.out.warn("reconnecting in %s", formatDuration(delay))
		t := time.NewTimer(delay)
		var waitOver <-chan time.Time
		if !cl.waitUntil.IsZero() {
			waitOver = time.After(time.Until(cl.waitUntil))
		}
		select {
		case <-t.C:
		case <-waitOver:
			return cl.finish(status)
		case <-ctx.Done():
			t.Stop()
			return cl.finish(status)
		}
		backoff = min(2*backoff, reconnectMax)
	}
}

// finish returns the exit status for a run that ended with status: exitTooFew when the run
// was otherwise fine but --count messages did not arrive.
func (cl *client) finish(status int) int {
	if status == exitOK && cl.cfg.count > 0 && cl.received.Load() < int64(cl.cfg.count) {
		cl.out.warn("%d of the %d messages of --count arrived", cl.received.Load(), cl.cfg.count)
		return exitTooFew
	}
	return status
}

// session is one open connection of wsx connect.
type session struct {
	cl *client
	c  *wsx.Conn
}

// readResult is how the read loop of a session ended.
type readResult struct {
	err          error // what ended the connection
	countReached bool  // or: --count messages arrived
}

// session sends the input and prints what arrives until the connection ends. It returns the
// exit status, and final when the run is over: the connection ended on our side (input,
// --wait, --count, /close, Ctrl-C), else --reconnect may open another.
func (cl *client) session(ctx context.Context, c *wsx.Conn, resp *http.Response) (status int, final bool) {
	s := &session{cl: cl, c: c}
	cfg := cl.cfg
	cl.out.event("open", "connected to "+cl.target.display+describeConn(c),
		"url", cl.target.display, "subprotocol", c.Subprotocol(), "extensions", c.Extensions())
	if cfg.verbose {
		cl.out.mu.Lock()
		printResponse(cl.e.stderr, resp)
		cl.out.mu.Unlock()
		if cfg.compression && c.Extensions() == "" {
			cl.out.warn("the server declined permessage-deflate: messages go uncompressed")
		}
	}
	if cl.typing {
		cl.out.status("type a line to send it; /ping, /close [code [reason]], /binary TEXT; Ctrl-D to close")
	}

	readDone := make(chan readResult, 1)
	go func() { readDone <- s.readLoop() }()

	var tick <-chan time.Time
	if cfg.ping > 0 {
		t := time.NewTicker(cfg.ping)
		defer t.Stop()
		tick = t.C
	}
	var waitOver <-chan time.Time
	if !cl.waitUntil.IsZero() {
		waitOver = time.After(time.Until(cl.waitUntil))
	}
	inputs := cl.inputs
	for {
		select {
		case m, ok := <-inputs:
			if !ok {
				inputs = nil
				cl.inputs = nil // the next connection of --reconnect has nothing more to send
				switch {
				case cl.typing || cfg.wait.set && cfg.wait.d == 0:
					return s.close(cfg.closeCode, cfg.closeReason, readDone)
				case cfg.wait.set:
					cl.waitUntil = time.Now().Add(cfg.wait.d)
					waitOver = time.After(cfg.wait.d)
				case cl.e.stderrTerminal && cfg.count == 0:
					// Someone is watching: say why nothing ends.
					cl.out.warn("the input ended; reading until the server closes the connection (Ctrl-C to leave, --wait or --count to stop by themselves)")
				}
				continue
			}
			if code, reason, closing := s.handle(ctx, m); closing {
				return s.close(code, reason, readDone)
			}
		case r := <-readDone:
			if r.countReached {
				return s.close(int(wsx.StatusNormalClosure), "", nil)
			}
			return s.ended(r.err), false
		case <-waitOver:
			return s.close(cfg.closeCode, cfg.closeReason, readDone)
		case <-tick:
			go s.ping(ctx, cfg.ping)
		case <-ctx.Done(): // SIGINT or SIGTERM: the user is leaving
			return s.close(int(wsx.StatusGoingAway), "", readDone)
		}
	}
}

// handle sends a message of the input, or runs a typed line as a command. It returns
// closing with the code and reason when the line asks to close.
func (s *session) handle(ctx context.Context, m inputMessage) (code int, reason string, closing bool) {
	typ, data := m.typ, m.data
	if m.typed && len(data) > 0 && data[0] == '/' {
		cmd, arg, _ := strings.Cut(string(data[1:]), " ")
		switch {
		case strings.HasPrefix(cmd, "/"):
			data = data[1:]
		case cmd == "ping":
			go s.ping(ctx, 10*time.Second)
			return 0, "", false
		case cmd == "close" || cmd == "quit":
			code, reason = int(wsx.StatusNormalClosure), ""
			if arg != "" {
				codeArg, rest, _ := strings.Cut(arg, " ")
				n, err := strconv.Atoi(codeArg)
				if err != nil || !sendableCode(n) {
					s.cl.out.warn("/close: %q is not a status code that may be sent (1000-1003, 1007-1014, 3000-4999)", codeArg)
					return 0, "", false
				}
				code, reason = n, rest
			}
			return code, reason, true
		case cmd == "binary":
			typ, data = wsx.MessageBinary, []byte(arg)
		default:
			s.cl.out.warn("unknown command /%s; /ping, /close [code [reason]], /binary TEXT, //TEXT sends /TEXT", cmd)
			return 0, "", false
		}
	}
	if err := s.c.Write(ctx, typ, data); err != nil {
		s.cl.out.warn("send: %s", errText(err))
	}
	return 0, "", false
}

// readLoop prints the messages that arrive until the connection ends or --count is reached.
func (s *session) readLoop() readResult {
	count := int64(s.cl.cfg.count)
	buf := make([]byte, 0, 4096)
	for {
		typ, msg, err := s.c.ReadMessage(context.Background(), buf[:0])
		if err != nil {
			return readResult{err: err}
		}
		s.cl.out.message(typ, msg)
		buf = reuse(msg)
		if n := s.cl.received.Add(1); count > 0 && n >= count {
			return readResult{countReached: true}
		}
	}
}

// ping measures a round trip and reports it.
func (s *session) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := s.c.Ping(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			s.cl.out.warn("ping: no pong within %v", timeout)
		}
		return
	}
	rtt := time.Since(start)
	if s.cl.out.format != formatJSON {
		s.cl.out.warn("pong in %s", formatDuration(rtt)) // asked for: shown without -v
		return
	}
	s.cl.out.event("pong", "", "rtt_ms", rtt)
}

// close performs the closing handshake (§7.1.2) and waits for the read loop, which prints
// what arrived before the server's Close. readDone is nil when the read loop has ended.
func (s *session) close(code int, reason string, readDone <-chan readResult) (status int, final bool) {
	err := s.c.Close(wsx.StatusCode(code), reason)
	var r readResult
	if readDone != nil {
		r = <-readDone
	}
	if err != nil {
		if !errors.Is(err, net.ErrClosed) { // not just the server closing first
			s.cl.out.warn("closing: %s", errText(err))
		}
		return s.ended(r.err), true
	}
	s.cl.out.event("close", "closed with "+wsx.StatusCode(code).String(), "code", code, "reason", reason, "by", "client")
	return exitOK, true
}

// ended reports how the server ended the connection and returns the exit status for it.
func (s *session) ended(err error) int {
	out := s.cl.out
	var ce *wsx.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code == wsx.StatusNormalClosure:
		out.event("close", "the server closed the connection ("+ce.Code.String()+")",
			"code", int(ce.Code), "reason", ce.Reason, "by", "server")
		return exitOK
	case ce != nil && ce.Code != wsx.StatusAbnormalClosure:
		line := "the server closed the connection with status " + ce.Code.String()
		if ce.Reason != "" {
			line += ": " + escapeControl([]byte(ce.Reason))
		}
		if out.format == formatJSON {
			out.event("close", line, "code", int(ce.Code), "reason", ce.Reason, "by", "server")
		}
		out.warn("%s", line)
		return exitClosedWithStatus
	}
	if out.format == formatJSON {
		out.event("close", "", "code", int(wsx.StatusAbnormalClosure), "error", errText(err))
	}
	out.warn("connection failed: %s", errText(err))
	return exitDropped
}
