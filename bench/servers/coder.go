package servers

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

func init() {
	register(&Lib{Name: "coder", Serve: serveCoder, Deflate: true})
}

// serveCoder reads each message through Reader into a reused buffer (Read would allocate per
// message) and writes it with Write. The read limit is raised from coder's 32 KiB default.
func serveCoder(ln net.Listener, o Options) (Server, error) {
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}
	if o.Deflate {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(ReadLimit)
		ctx := context.Background()
		var buf []byte
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if buf, err = appendAll(buf[:0], rd); err != nil {
				return
			}
			if err := c.Write(ctx, typ, buf); err != nil {
				return
			}
		}
	})), nil
}
