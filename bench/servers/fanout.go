package servers

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/hub"
)

// The fan-out servers (load/fanout.go): every message from the connection that asked for
// load.PublisherProtocol goes to every other connection; a subscriber first gets "ok" once it
// is subscribed. Each is written the way its library recommends for broadcasting.

// topic is the one topic of the fan-out servers.
const topic = "all"

// ack tells a subscriber that it is subscribed.
var ack = []byte("ok")

// fanoutWsx runs the hub package: a message is framed once, compressed once for all the
// subscribers (CompressionOptions.NoContextTakeover, as the hub's documentation recommends),
// and what is queued for a subscriber goes out in one write.
func fanoutWsx(ln net.Listener, o Options) (Server, error) {
	h := hub.New(nil)
	return serveHub(ln, o, h, h)
}

// serveHub accepts connections on ln with AcceptConn: the publisher's messages go to pub, the
// subscribers subscribe to sub (the same Hub, or another one joined through a broker).
func serveHub(ln net.Listener, o Options, pub, sub *hub.Hub) (Server, error) {
	opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: ReadLimit},
		Subprotocols: []string{load.PublisherProtocol}}
	if o.Deflate {
		opts.Compression = &wsx.CompressionOptions{Level: DeflateLevel, NoContextTakeover: true}
	}
	return acceptWsx(ln, opts, nil, func(c *wsx.Conn) {
		if c.Subprotocol() == load.PublisherProtocol {
			hubPublisher(pub, c)
		} else {
			hubSubscriber(sub, c)
		}
	})
}

func hubPublisher(h *hub.Hub, c *wsx.Conn) {
	wsxEach(c, func(ctx context.Context, typ wsx.MessageType, p []byte) error { return h.Publish(ctx, topic, typ, p) })
}

func hubSubscriber(h *hub.Hub, c *wsx.Conn) {
	defer c.CloseNow()
	defer h.Leave(c)
	ctx := context.Background()
	if h.Subscribe(ctx, c, topic) != nil || c.Write(ctx, wsx.MessageText, ack) != nil {
		return
	}
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// fanoutGorilla is gorilla's chat example with PreparedMessage: one writer goroutine per
// client draining a channel of 256 messages (a client whose channel is full is dropped, as in
// the example), and a message prepared once for all clients.
func fanoutGorilla(ln net.Listener, o Options) (Server, error) {
	up := websocket.Upgrader{EnableCompression: o.Deflate, Subprotocols: []string{load.PublisherProtocol}}
	var mu sync.Mutex
	clients := map[chan *websocket.PreparedMessage]bool{}
	ackMsg, err := websocket.NewPreparedMessage(websocket.TextMessage, ack)
	if err != nil {
		return nil, err
	}
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := upgradeGorilla(&up, w, r)
		if c == nil {
			return
		}
		defer c.Close()
		if c.Subprotocol() == load.PublisherProtocol {
			for {
				typ, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				pm, err := websocket.NewPreparedMessage(typ, p)
				if err != nil {
					return
				}
				mu.Lock()
				for send := range clients {
					select {
					case send <- pm:
					default:
						delete(clients, send)
						close(send)
					}
				}
				mu.Unlock()
			}
		}
		send := make(chan *websocket.PreparedMessage, 256)
		mu.Lock()
		clients[send] = true
		send <- ackMsg
		mu.Unlock()
		go func() {
			for pm := range send {
				if c.WritePreparedMessage(pm) != nil {
					break
				}
			}
			c.Close()
		}()
		for {
			if _, _, err := c.NextReader(); err != nil {
				break
			}
		}
		mu.Lock()
		if clients[send] {
			delete(clients, send)
			close(send)
		}
		mu.Unlock()
	})), nil
}

// fanoutGws uses gws's Broadcaster: a message is framed (and compressed) once, and queued on
// each subscriber's asynchronous write queue.
func fanoutGws(ln net.Listener, o Options) (Server, error) {
	f := &gwsFanout{subs: map[*gws.Conn]bool{}}
	option := func(protocols ...string) *gws.ServerOption {
		return &gws.ServerOption{
			ReadMaxPayloadSize: ReadLimit,
			PermessageDeflate:  gws.PermessageDeflate{Enabled: o.Deflate, Level: DeflateLevel},
			SubProtocols:       protocols,
		}
	}
	// gws refuses a client that offers none of the SubProtocols: one Upgrader per role.
	subscriber, publisher := gws.NewUpgrader(f, option()), gws.NewUpgrader(f, option(load.PublisherProtocol))
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := subscriber
		if r.Header.Get("Sec-WebSocket-Protocol") == load.PublisherProtocol {
			up = publisher
		}
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})), nil
}

type gwsFanout struct {
	gws.BuiltinEventHandler
	mu   sync.RWMutex
	subs map[*gws.Conn]bool
}

func (f *gwsFanout) OnOpen(c *gws.Conn) {
	if c.SubProtocol() == load.PublisherProtocol {
		return
	}
	f.mu.Lock()
	f.subs[c] = true
	f.mu.Unlock()
	c.WriteMessage(gws.OpcodeText, ack)
}

func (f *gwsFanout) OnClose(c *gws.Conn, err error) {
	f.mu.Lock()
	delete(f.subs, c)
	f.mu.Unlock()
}

func (f *gwsFanout) OnMessage(c *gws.Conn, m *gws.Message) {
	// The Broadcaster writes asynchronously and keeps the payload until then: a copy, since
	// the message's buffer goes back to gws's pool.
	b := gws.NewBroadcaster(m.Opcode, bytes.Clone(m.Bytes()))
	m.Close()
	f.mu.RLock()
	for s := range f.subs {
		b.Broadcast(s)
	}
	f.mu.RUnlock()
	b.Close()
}
