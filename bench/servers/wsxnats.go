package servers

import (
	"errors"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/wsx-go/wsx/hub"
	"github.com/wsx-go/wsx/natsbroker"
)

func init() {
	register(&Lib{Name: "wsx-nats", Fanout: fanoutWsxNATS, Deflate: true,
		Variant: "wsx's hub through one NATS hop"})
}

// fanoutWsxNATS measures one NATS hop: the publisher's messages go to one Hub, the
// subscribers are on another, and the two are joined only through a NATS server, all in this
// process (so that the CPU time counted is that of both hubs and the server) but over
// loopback TCP as between machines.
func fanoutWsxNATS(ln net.Listener, o Options) (Server, error) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("NATS did not start")
	}
	var hubs [2]*hub.Hub
	var conns [2]*nats.Conn
	for i := range hubs {
		nc, err := nats.Connect(ns.ClientURL(), nats.NoEcho())
		if err != nil {
			ns.Shutdown()
			return nil, err
		}
		b, err := natsbroker.New(nc, "")
		if err != nil {
			ns.Shutdown()
			return nil, err
		}
		conns[i], hubs[i] = nc, hub.New(&hub.Options{Broker: b})
	}
	if _, err := serveHub(ln, o, hubs[0], hubs[1]); err != nil {
		ns.Shutdown()
		return nil, err
	}
	return &natsServer{ln: ln, ns: ns, conns: conns}, nil
}

type natsServer struct {
	ln    net.Listener
	ns    *server.Server
	conns [2]*nats.Conn
}

func (s *natsServer) Close() error {
	err := s.ln.Close()
	for _, nc := range s.conns {
		nc.Close()
	}
	s.ns.Shutdown()
	return err
}
