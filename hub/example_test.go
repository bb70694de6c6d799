//go:build !js

package hub_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/hub"
)

// A chat room: what one member sends, every member receives. On shutdown every member gets
// Close 1001.
func Example() {
	h := hub.New(nil) // in this process only; Options.Broker joins several
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{
			// Without context takeover, all members share one compressed frame.
			Compression: &wsx.CompressionOptions{NoContextTakeover: true},
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		defer h.Leave(c)
		if err := h.Subscribe(r.Context(), c, "lobby"); err != nil {
			return
		}
		c.Write(r.Context(), wsx.MessageText, []byte("welcome"))
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			h.Publish(r.Context(), "lobby", typ, msg)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var members []*wsx.Conn
	for range 2 {
		c, _, err := wsx.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		c.Read(ctx) // welcome: subscribed
		members = append(members, c)
	}
	members[0].Write(ctx, wsx.MessageText, []byte("hello, room"))
	for i, c := range members {
		_, msg, _ := c.Read(ctx)
		fmt.Printf("member %d: %s\n", i, msg)
	}

	done := make(chan error)
	for _, c := range members {
		go func() {
			_, _, err := c.Read(ctx) // answers the closing handshake
			done <- err
		}()
	}
	if err := h.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	for range members {
		fmt.Println(wsx.CloseStatus(<-done))
	}
	// Output:
	// member 0: hello, room
	// member 1: hello, room
	// 1001 (going away)
	// 1001 (going away)
}
