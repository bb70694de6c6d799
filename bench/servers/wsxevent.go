package servers

import (
	"net"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/event"
)

func init() {
	register(&Lib{Name: "wsx-event", Serve: serveWsxEvent, Deflate: true, EventLoop: true,
		Variant: "event mode (package event)"})
}

// serveWsxEvent is wsx's event mode (package event) as its documentation shows it: epoll
// workers (GOMAXPROCS of them: one here), OnMessage echoing with Conn.Write. An idle
// connection holds no goroutine and no buffer.
func serveWsxEvent(ln net.Listener, o Options) (Server, error) {
	srv := &event.Server{
		Options: wsxOptions(o),
		OnMessage: func(c *event.Conn, typ wsx.MessageType, msg []byte) {
			c.Write(typ, msg)
		},
	}
	go srv.Serve(ln)
	return srv, nil
}
