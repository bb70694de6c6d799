package servers

import (
	"net"
	"net/http"

	"github.com/lxzan/gws"
)

func init() {
	register(&Lib{Name: "gws", Serve: serveGws, Deflate: true, Fanout: fanoutGws})
}

// serveGws follows gws's "Best Practice": an Upgrader on a net/http handler, ReadLoop in its
// own goroutine, and OnMessage writing the message back then releasing it to gws's pool.
// ParallelEnabled stays off: echo needs no parallelism and order must be kept.
func serveGws(ln net.Listener, o Options) (Server, error) {
	up := gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{
		ReadMaxPayloadSize: ReadLimit,
		PermessageDeflate:  gws.PermessageDeflate{Enabled: o.Deflate, Level: DeflateLevel},
	})
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})), nil
}

type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}
