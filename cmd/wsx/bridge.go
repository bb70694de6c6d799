package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

const bridgeUsage = `Usage: wsx bridge [flags] LISTEN TARGET

Carries byte streams over WebSockets, each connection on its own, in either direction:

  wsx bridge ws://127.0.0.1:8022 tcp://127.0.0.1:22
      accepts WebSocket connections on 127.0.0.1:8022 (on any path) and opens a TCP
      connection to 127.0.0.1:22 for each: every message that arrives is written to it, and
      what it sends comes back as binary messages. wss:// with --tls-cert/--tls-key or
      --tls-self-signed.
  wsx bridge tcp://127.0.0.1:2222 wss://example.com/ssh
      accepts TCP connections on 127.0.0.1:2222 and opens a WebSocket connection to the URL
      for each, carrying the bytes as binary messages both ways: the other end of the first.

The end of one side ends the other: a TCP connection that closes makes the bridge close the
WebSocket with 1000 (1011 when it failed), and a WebSocket that closes, whatever its
status, closes the TCP connection. A TCP target that cannot be reached gets the WebSocket
closed with 1014 (bad gateway). Each read of a TCP connection (up to 32 KiB) is one
message. Writes to either side that take longer than --write-timeout close the connection.

The WebSocket side accepted is held to the same-origin policy, as with wsx serve (--origin,
--insecure-origin); the WebSocket side dialled takes connect's flags (-H, --auth, --token,
--cacert, --insecure, --proxy...). -s names the subprotocol to agree to or to offer.

Examples:
  wsx bridge ws://127.0.0.1:8022 tcp://127.0.0.1:22        # SSH over WebSocket, server side
  wsx bridge tcp://127.0.0.1:2222 ws://gateway:8022/        # ... and client side: ssh -p 2222 127.0.0.1
  wsx bridge --insecure-origin -s binary ws://:5700 tcp://127.0.0.1:5900   # a VNC server for noVNC
`

// bridgeConfig is what the arguments and flags of wsx bridge select.
type bridgeConfig struct {
	listen, target *url.URL
	gatewayConfig
}

func runBridge(ctx context.Context, e *env, args []string) int {
	f := newFlags("bridge", bridgeUsage)
	var cfg bridgeConfig
	cfg.addFlags(f, 10*time.Second, "also log every message")
	f.Var(&cfg.dial.protocols, "subprotocol", "subprotocol `name`s to agree to (ws:// LISTEN) or to offer (ws:// TARGET)")
	f.Var(&cfg.dial.protocols, "s", "short for --subprotocol")
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	if len(pos) != 2 {
		return f.usageError(e, "want LISTEN and TARGET, got %d arguments", len(pos))
	}
	var err error
	if cfg.listen, err = bridgeAddr(pos[0], "ws", "wss", "tcp"); err != nil {
		return f.usageError(e, "LISTEN: %v", err)
	}
	if cfg.target, err = bridgeAddr(pos[1], "ws", "wss", "tcp"); err != nil {
		return f.usageError(e, "TARGET: %v", err)
	}
	if (cfg.listen.Scheme == "tcp") == (cfg.target.Scheme == "tcp") {
		return f.usageError(e, "one side must be tcp:// and the other ws:// or wss:// (wsx proxy forwards WebSockets to WebSockets)")
	}
	if cfg.accept.addr, err = listenAddr(cfg.listen.Host, ""); err != nil {
		return f.usageError(e, "LISTEN: %v", err)
	}
	if err := cfg.check(); err != nil {
		return f.usageError(e, "%v", err)
	}
	if (cfg.listen.Scheme == "wss") != cfg.tls.enabled() {
		return f.usageError(e, "a wss:// LISTEN goes with --tls-cert/--tls-key or --tls-self-signed, and they with it")
	}
	b := &bridge{cfg: &cfg, log: cfg.log.logger(e.stderr)}
	if cfg.target.Scheme != "tcp" {
		if b.wsTarget, err = cfg.dial.target(cfg.target.String()); err != nil {
			return f.usageError(e, "%v", err)
		}
	}
	b.opts = cfg.accept.options()
	b.opts.Subprotocols = cfg.dial.protocols
	if err := b.run(ctx); err != nil {
		b.log.Error("bridge failed", "err", err)
		return exitFail
	}
	return exitOK
}

// bridgeAddr parses an address of wsx bridge: a URL with one of schemes and a host:port.
func bridgeAddr(s string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return nil, fmt.Errorf("bad address %q: want tcp://host:port, ws://host:port/path or wss://host:port/path", s)
	}
	if !strings.Contains(strings.Join(schemes, " "), u.Scheme) || u.Scheme == "" {
		return nil, fmt.Errorf("bad address %q: the scheme must be tcp, ws or wss", s)
	}
	if u.Scheme == "tcp" && (u.Port() == "" || u.Path != "") {
		return nil, fmt.Errorf("bad address %q: want tcp://host:port", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad address %q: no host", s)
	}
	return u, nil
}

// bridge is a running wsx bridge.
type bridge struct {
	cfg      *bridgeConfig
	log      *slog.Logger
	opts     wsx.AcceptOptions
	wsTarget *target // for a ws:// or wss:// TARGET
	nextID   atomic.Uint64
	conns    sync.WaitGroup
	active   connSet     // the open connections of both sides, closed at shutdown
	watch    *writeWatch // the write timeout of the WebSocket side
}

func (b *bridge) run(ctx context.Context) error {
	b.watch = newWriteWatch(b.cfg.timeouts.write)
	defer b.watch.close()
	ln, err := net.Listen("tcp", b.cfg.listen.Host)
	if err != nil {
		return err
	}
	shown := *b.cfg.listen
	shown.Host = displayHost(ln.Addr())
	if shown.Scheme != "tcp" && shown.Path == "" {
		shown.Path = "/"
	}
	b.log.Info("listening", "addr", ln.Addr().String(), "url", shown.String(), "target", b.cfg.target.Redacted())
	if b.cfg.tls.enabled() {
		tc, err := b.cfg.tls.config(b.cfg.listen.Host, b.log)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		acceptLoop(ln, b.log, func(nc net.Conn) {
			b.conns.Add(1)
			defer b.conns.Done()
			if b.cfg.listen.Scheme == "tcp" {
				b.fromTCP(ctx, nc)
			} else {
				b.fromWebSocket(nc)
			}
		})
	}()
	<-ctx.Done()
	ln.Close()
	<-accepting
	b.active.closeAll()
	b.conns.Wait()
	b.log.Info("stopped")
	return nil
}

// fromWebSocket serves a connection to a ws:// LISTEN: a WebSocket to a TCP target.
func (b *bridge) fromWebSocket(nc net.Conn) {
	if !b.active.add(nc) {
		nc.Close()
		return
	}
	defer b.active.remove(nc)
	c, err := wsx.AcceptConn(&deadlineContext{time.Now().Add(b.cfg.timeouts.readHeader)}, nc, &b.opts)
	if err != nil {
		b.log.Warn("handshake refused", "remote", nc.RemoteAddr().String(), "err", errText(err))
		return
	}
	defer c.CloseNow()
	id := b.nextID.Add(1)
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.dial.timeout)
	tc, err := d.DialContext(ctx, "tcp", b.cfg.target.Host)
	cancel()
	if err != nil {
		b.log.Warn("target unreachable", "conn", id, "remote", nc.RemoteAddr().String(), "target", b.cfg.target.String(), "err", err)
		c.Close(wsx.StatusBadGateway, "cannot reach the bridge's target")
		return
	}
	b.carry(id, c, tc, nc.RemoteAddr())
}

// fromTCP serves a connection to a tcp:// LISTEN: TCP to a WebSocket target.
func (b *bridge) fromTCP(ctx context.Context, nc net.Conn) {
	if !b.active.add(nc) {
		nc.Close()
		return
	}
	defer b.active.remove(nc)
	defer nc.Close()
	id := b.nextID.Add(1)
	var why strings.Builder
	c, _, err := b.wsTarget.dial(ctx, b.cfg.dial.timeout, &why, "target")
	if err != nil {
		b.log.Warn("target unreachable", "conn", id, "remote", nc.RemoteAddr().String(), "target", b.wsTarget.display,
			"err", strings.ReplaceAll(strings.TrimSpace(why.String()), "\n", "; "))
		return
	}
	defer c.CloseNow()
	b.carry(id, c, nc, nc.RemoteAddr())
}

// bridgeReadSize is the most one read of a TCP connection takes, and so the largest message
// the bridge sends.
const bridgeReadSize = 32 << 10

// carry moves bytes between the WebSocket c and the TCP connection tc until one side ends,
// ends the other, and logs the connection.
func (b *bridge) carry(id uint64, c *wsx.Conn, tc net.Conn, remote net.Addr) {
	b.active.add(tc)
	defer b.active.remove(tc)
	defer tc.Close()
	var ws watchedConn
	b.watch.add(&ws, c)
	defer ws.remove()
	b.log.Info("connected", "conn", id, "remote", remote.String(), "subprotocol", c.Subprotocol(), "extensions", c.Extensions())
	start := time.Now()
	var toTCP, toWS int64
	wsDone := make(chan error, 1)
	go func() {
		// WebSocket to TCP. A WebSocket has no half-close: its end ends the TCP connection.
		ctx := context.Background()
		var buf []byte
		for {
			typ, msg, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				tc.Close()
				wsDone <- err
				return
			}
			if b.cfg.log.verbose {
				b.log.Debug("message", "conn", id, "from", "websocket", "type", typ.String(), "len", len(msg), "data", preview(typ, msg))
			}
			tc.SetWriteDeadline(time.Now().Add(b.cfg.timeouts.write))
			if _, err := tc.Write(msg); err != nil {
				c.Close(wsx.StatusBadGateway, "the bridge's TCP connection failed")
				wsDone <- err
				return
			}
			atomic.AddInt64(&toTCP, int64(len(msg)))
			buf = reuse(msg)
		}
	}()
	// TCP to WebSocket.
	buf := make([]byte, bridgeReadSize)
	var tcpErr error
	for {
		n, err := tc.Read(buf)
		if n > 0 {
			if b.cfg.log.verbose {
				b.log.Debug("message", "conn", id, "from", "tcp", "type", "binary", "len", n, "data", preview(wsx.MessageBinary, buf[:n]))
			}
			if werr := ws.write(context.Background(), wsx.MessageBinary, buf[:n]); werr != nil {
				break // the WebSocket ended: its reader reports why
			}
			toWS += int64(n)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			c.Close(wsx.StatusNormalClosure, "")
		case errors.Is(err, net.ErrClosed):
			// Closed here: the WebSocket ended (then Close does nothing), or the bridge is
			// shutting down.
			c.Close(wsx.StatusGoingAway, "the bridge is shutting down")
		default:
			tcpErr = err
			c.Close(wsx.StatusInternalError, "the TCP connection failed")
		}
		break
	}
	wsErr := ws.timeoutError(<-wsDone)
	attrs := []any{"conn", id, "duration", formatDuration(time.Since(start)), "bytes_to_tcp", atomic.LoadInt64(&toTCP), "bytes_to_websocket", toWS}
	var ce *wsx.CloseError
	switch {
	case tcpErr != nil:
		b.log.Warn("failed", append(attrs, "err", "tcp: "+tcpErr.Error())...)
	case errors.As(wsErr, &ce) && ce.Code != wsx.StatusAbnormalClosure:
		b.log.Info("closed", append(attrs, "status", int(ce.Code), "reason", ce.Reason)...)
	default:
		b.log.Warn("failed", append(attrs, "err", errText(wsErr))...)
	}
}
