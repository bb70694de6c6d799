//go:build !js

package wsx_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wsx-go/wsx"
)

// A server frames a message once and sends it to each of its clients; a client that has
// fallen behind gets the queued messages in one write.
func ExampleNewPreparedMessage() {
	conns := make(chan *wsx.Conn, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{
			// No context takeover lets every client share one compressed frame.
			Compression: &wsx.CompressionOptions{NoContextTakeover: true, Threshold: -1},
		})
		if err != nil {
			return
		}
		conns <- c
	}))
	defer srv.Close()

	ctx := context.Background()
	var clients []*wsx.Conn
	for range 3 {
		c, _, err := wsx.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"),
			&wsx.DialOptions{Compression: &wsx.CompressionOptions{}})
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		clients = append(clients, c)
	}

	hello, err := wsx.NewPreparedMessage(wsx.MessageText, []byte("hello, everyone"))
	if err != nil {
		log.Fatal(err)
	}
	news, _ := wsx.NewPreparedMessage(wsx.MessageText, []byte("news"))
	for range 3 {
		c := <-conns
		defer c.CloseNow()
		if err := c.WritePrepared(ctx, hello, news); err != nil {
			log.Fatal(err)
		}
	}
	for _, c := range clients {
		_, a, _ := c.Read(ctx)
		_, b, _ := c.Read(ctx)
		fmt.Printf("%s; %s\n", a, b)
	}
	// Output:
	// hello, everyone; news
	// hello, everyone; news
	// hello, everyone; news
}
