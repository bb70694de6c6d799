package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/event"
)

// serveEvent is wsx serve --event: WebSockets only, served by package event, whose workers
// hold an idle connection without a goroutine or a buffer of its own. Every message is
// echoed; connections are logged with --verbose only, as there may be hundreds of thousands.
func serveEvent(ctx context.Context, cfg serveConfig, log *slog.Logger) error {
	opts := cfg.accept.options()
	opts.Subprotocols = cfg.subprotocols
	if opts.Compression != nil {
		opts.Compression.Level = cfg.compressLevel
	}
	// A client that stops reading is dropped (1008) once its output has made no progress for
	// the write timeout, as the other mode drops it.
	opts.StallTimeout = cfg.timeouts.write
	var open atomic.Int64
	srv := &event.Server{
		Options:          &opts,
		HandshakeTimeout: cfg.timeouts.readHeader,
		OnOpen: func(c *event.Conn) {
			open.Add(1)
			log.Debug("connected", "remote", c.RemoteAddr(), "subprotocol", c.Subprotocol(), "extensions", c.Extensions())
		},
		OnMessage: func(c *event.Conn, typ wsx.MessageType, msg []byte) {
			log.Debug("message", "type", typ, "bytes", len(msg))
			c.Write(typ, msg)
		},
		OnClose: func(c *event.Conn, err error) {
			open.Add(-1)
			log.Debug("closed", "status", wsx.CloseStatus(err), "err", err)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "ws"
	if cfg.tls.enabled() {
		tlsConfig, err := cfg.tls.config(cfg.addr, log)
		if err != nil {
			return err
		}
		srv.TLSConfig = tlsConfig
		scheme = "wss"
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+displayHost(ln.Addr())+"/",
		"mode", "echo, event mode", "compression", cfg.accept.compression)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "connections", open.Load())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx) // Close 1001 (going away, §7.4.1) to every connection
	if err := <-errc; !errors.Is(err, event.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
