//go:build !js

package wsx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
)

// serve starts a test server running handler on every WebSocket and returns its ws:// URL.
func serve(handler func(ctx context.Context, c *wsx.Conn), opts *wsx.AcceptOptions) (string, func()) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		handler(r.Context(), c)
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv.Close
}

// A server that only pushes: CloseRead keeps pings answered and the closing handshake working
// while the handler never reads, and its context ends with the connection.
func ExampleConn_CloseRead() {
	url, stop := serve(func(ctx context.Context, c *wsx.Conn) {
		ctx = c.CloseRead(ctx)
		for i := 1; ; i++ {
			if err := c.Write(ctx, wsx.MessageText, fmt.Appendf(nil, "event %d", i)); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}, nil)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		_, msg, _ := c.Read(ctx)
		fmt.Println(string(msg))
	}
	go c.Read(ctx) // the client keeps reading, to see the server's answer to its Close
	fmt.Println(c.Close(wsx.StatusNormalClosure, ""))
	// Output:
	// event 1
	// event 2
	// <nil>
}

// OnPong measures the round trip of each Ping as the reading goroutine sees its pong.
func ExampleConnOptions_onPong() {
	url, stop := serve(func(ctx context.Context, c *wsx.Conn) {
		c.Read(ctx) // reading answers pings
	}, nil)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pongs := make(chan time.Time, 1)
	c, _, err := wsx.Dial(ctx, url, &wsx.DialOptions{ConnOptions: wsx.ConnOptions{
		OnPong: func([]byte) { pongs <- time.Now() },
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	sent := time.Now()
	if err := c.Ping(ctx); err != nil { // nobody else reads: Ping reads until its pong
		log.Fatal(err)
	}
	rtt := (<-pongs).Sub(sent)
	fmt.Println(rtt > 0 && rtt < time.Second)
	// Output: true
}

// A server accepts small messages until a client has said who it is, then large ones.
func ExampleConn_SetReadLimit() {
	url, stop := serve(func(ctx context.Context, c *wsx.Conn) {
		_, token, err := c.Read(ctx)
		if err != nil || string(token) != "let me in" {
			return
		}
		c.SetReadLimit(64 << 20)
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		c.Write(ctx, wsx.MessageText, fmt.Appendf(nil, "got %d bytes", len(msg)))
	}, &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: 1024}})
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, wsx.MessageText, []byte("let me in"))
	c.Write(ctx, wsx.MessageBinary, make([]byte, 1<<20))
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))
	// Output: got 1048576 bytes
}

// A ProtocolError says which rule the peer broke and the close code wsx failed the connection
// with.
func ExampleProtocolError() {
	failed := make(chan error, 1)
	url, stop := serve(func(ctx context.Context, c *wsx.Conn) {
		_, _, err := c.Read(ctx)
		failed <- err
	}, &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: 16}})
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	c.Write(ctx, wsx.MessageText, []byte("more than sixteen bytes"))
	_, _, err = c.Read(ctx)
	fmt.Println("client:", wsx.CloseStatus(err))

	var pe *wsx.ProtocolError
	if errors.As(<-failed, &pe) {
		fmt.Println("server:", pe.Code, "because", pe.Rule)
	}
	// Output:
	// client: 1009 (message too big)
	// server: 1009 (message too big) because message exceeds the read limit (§10.4)
}
