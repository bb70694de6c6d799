//go:build !js

package event_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/event"
)

// An echo server in event mode: the handler runs on a worker when a message arrives, and
// Write never blocks it.
func Example() {
	srv := &event.Server{
		Options: &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}},
		OnMessage: func(c *event.Conn, typ wsx.MessageType, msg []byte) {
			c.Write(typ, msg) // msg is valid during the call only: Write sends or copies it
		},
		OnClose: func(c *event.Conn, err error) {
			fmt.Println("closed:", wsx.CloseStatus(err))
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsx.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		log.Fatal(err)
	}
	c.Write(ctx, wsx.MessageText, []byte("hello"))
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))
	c.Close(wsx.StatusNormalClosure, "")
	srv.Shutdown(ctx) // waits for the connection to end
	// Output:
	// hello
	// closed: 1000 (normal closure)
}

// A server that pushes to its clients from a goroutine of its own, as a notification service
// does: Conn.Write may be called from anywhere, and a client that does not keep up is
// disconnected with 1008 instead of slowing the others down.
func ExampleConn_Write() {
	conns := make(chan *event.Conn, 1)
	srv := &event.Server{
		MaxPending: 64 << 10, // bytes waiting for one client, at most
		OnOpen:     func(c *event.Conn) { conns <- c },
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	client, _, err := wsx.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseNow()
	c := <-conns
	go func() {
		for i := range 3 {
			c.Write(wsx.MessageText, []byte(fmt.Sprint("event ", i)))
		}
	}()
	for range 3 {
		_, msg, _ := client.Read(ctx)
		fmt.Println(string(msg))
	}
	// Output:
	// event 0
	// event 1
	// event 2
}
