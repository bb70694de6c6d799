// Package h3transport carries wsx WebSocket connections on HTTP/3 streams (RFC 9220), with
// quic-go, on both sides.
//
// Server: wrap the handler of an http3.Server with Handler, and wsx.Accept serves extended
// CONNECT requests in it as it serves HTTP/1.1 upgrades (quic-go always advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL):
//
//	srv := &http3.Server{Addr: ":443", Handler: h3transport.Handler(mux), TLSConfig: http3.ConfigureTLSConfig(cfg)}
//
// Client: set a Transport in wsx.DialOptions.Transport; WebSockets to one server share one
// QUIC connection:
//
//	c, _, err := wsx.Dial(ctx, "wss://example.com/socket", &wsx.DialOptions{Transport: &h3transport.Transport{}})
//
// It is its own module, so that programs that do not use HTTP/3 do not download quic-go.
package h3transport

import (
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wsx-go/wsx/internal/stream"
)

// Handler returns a handler that serves h, with the ResponseWriter of each extended CONNECT
// request (RFC 9220) able to hand its stream over to wsx.Accept. The ResponseWriter keeps
// quic-go's interfaces (http.Flusher, http3.HTTPStreamer, http3.Settingser, and the
// deadlines of http.ResponseController through Unwrap). Other requests reach h unchanged.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if qw, ok := w.(quicResponseWriter); ok && r.Method == http.MethodConnect && r.ProtoMajor == 3 {
			w = &streamWriter{quicResponseWriter: qw, r: r}
		}
		h.ServeHTTP(w, r)
	})
}

// quicResponseWriter is what quic-go's ResponseWriter implements.
type quicResponseWriter interface {
	http.ResponseWriter
	http.Flusher
	http3.HTTPStreamer
	http3.Settingser
}

// streamWriter is quic-go's ResponseWriter with the method wsx.Accept looks for.
type streamWriter struct {
	quicResponseWriter
	r *http.Request
}

// Unwrap returns quic-go's ResponseWriter, for http.ResponseController.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.quicResponseWriter }

// TakeWebSocketStream sends the response header and returns the request's stream. The stream
// outlives the handler: it ends when the Conn closes it.
func (w *streamWriter) TakeWebSocketStream() (net.Conn, error) {
	str, err := w.HTTPStream()
	if err != nil {
		return nil, err
	}
	local, _ := w.r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote, _ := w.r.Context().Value(http3.RemoteAddrContextKey).(net.Addr)
	if remote == nil {
		if ap, err := netip.ParseAddrPort(w.r.RemoteAddr); err == nil {
			remote = net.UDPAddrFromAddrPort(ap)
		}
	}
	return stream.New(&quicStream{str}, local, remote), nil
}

// quicStreamer is what http3.Stream and http3.RequestStream have in common.
type quicStreamer interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	Close() error
	CancelRead(quic.StreamErrorCode)
	CancelWrite(quic.StreamErrorCode)
}

// quicStream is an HTTP/3 request stream as a stream.Stream: its reads and writes carry
// DATA frames (RFC 9220 §3, RFC 9114 §7.2.1); its end is the QUIC stream's FIN.
type quicStream struct{ s quicStreamer }

func (q *quicStream) Read(p []byte) (int, error)  { return q.s.Read(p) }
func (q *quicStream) Write(p []byte) (int, error) { return q.s.Write(p) }

// CloseWrite sends FIN: the orderly close of the sending half.
func (q *quicStream) CloseWrite() error { return q.s.Close() }

// Abort resets both directions with H3_REQUEST_CANCELLED (RFC 9114 §8.1).
func (q *quicStream) Abort() {
	q.s.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
	q.s.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
}

// Close sends FIN and, a moment later, stops receiving (STOP_SENDING with H3_NO_ERROR,
// RFC 9114 §4.1.1). A peer told at once to stop sending may fail its stream before it has
// delivered what came before (Chromium reports the Close frame of a connection that failed
// with 1009 as 1006 then); over TCP, wsx's peer gets the Close frame before the connection
// ends too. Until then quic-go holds what the peer sends, within the stream's flow control.
func (q *quicStream) Close() error {
	err := q.s.Close()
	time.AfterFunc(closeLinger, func() { q.s.CancelRead(quic.StreamErrorCode(http3.ErrCodeNoError)) })
	return err
}

// closeLinger is how long a closed stream still takes what the peer sends.
const closeLinger = time.Second
