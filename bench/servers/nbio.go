//go:build !race

package servers

import (
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func init() {
	register(&Lib{Name: "nbio", Serve: serveNbio, Deflate: true, EventLoop: true})
	logging.SetLevel(logging.LevelNone)
}

// serveNbio runs nbhttp's epoll engine in its default non-blocking mode with the websocket
// Upgrader, echoing from OnMessage. ReleaseWebsocketPayload lets nbio recycle payload buffers,
// as its default engine does.
func serveNbio(ln net.Listener, o Options) (Server, error) {
	up := websocket.NewUpgrader()
	up.EnableCompression(o.Deflate)
	if err := up.SetCompressionLevel(DeflateLevel); err != nil {
		return nil, err
	}
	up.MessageLengthLimit = ReadLimit
	up.OnMessage(func(c *websocket.Conn, typ websocket.MessageType, p []byte) {
		_ = c.WriteMessage(typ, p)
	})
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil)
	})
	e := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{ln.Addr().String()},
		Listen:                  func(string, string) (net.Listener, error) { return ln, nil },
		Handler:                 mux,
		ReleaseWebsocketPayload: true,
	})
	if err := e.Start(); err != nil {
		return nil, err
	}
	return nbioServer{e}, nil
}

type nbioServer struct{ e *nbhttp.Engine }

func (s nbioServer) Close() error { s.e.Stop(); return nil }
