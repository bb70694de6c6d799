package servers

import (
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

func init() {
	register(&Lib{Name: "gorilla", Serve: serveGorilla, Deflate: true, Fanout: fanoutGorilla})
}

// serveGorilla reads each message through NextReader into a reused buffer (ReadMessage would
// allocate per message) and writes it with WriteMessage, gorilla's single-frame fast path for
// servers. Buffer sizes are left at zero so gorilla reuses net/http's hijacked buffers.
func serveGorilla(ln net.Listener, o Options) (Server, error) {
	up := websocket.Upgrader{EnableCompression: o.Deflate}
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := upgradeGorilla(&up, w, r)
		if c == nil {
			return
		}
		defer c.Close()
		var buf []byte
		for {
			typ, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if buf, err = appendAll(buf[:0], rd); err != nil {
				return
			}
			if err := c.WriteMessage(typ, buf); err != nil {
				return
			}
		}
	})), nil
}

// upgradeGorilla upgrades r with up and sets the compression level; nil when either fails
// (the connection, if any, closed).
func upgradeGorilla(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	if err := c.SetCompressionLevel(DeflateLevel); err != nil {
		c.Close()
		return nil
	}
	return c
}
