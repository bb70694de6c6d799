//go:build !js

package wsx_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wsx-go/wsx"
)

// A client talking to an echo server, through the closing handshake.
func ExampleDial() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, msg)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	c.Write(ctx, wsx.MessageText, []byte("hello"))
	typ, msg, err := c.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(typ, string(msg))
	fmt.Println(c.Close(wsx.StatusNormalClosure, "done"))
	// Output:
	// text hello
	// <nil>
}

// CloseStatus tells how the peer ended the connection.
func ExampleCloseStatus() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(wsx.StatusGoingAway, "restarting")
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := wsx.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	fmt.Println(wsx.CloseStatus(err))
	fmt.Println(err)
	// Output:
	// 1001 (going away)
	// wsx: peer closed the connection with status 1001 (going away): "restarting"
}

// Compression is negotiated when both sides ask for it.
func ExampleCompressionOptions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{Compression: &wsx.CompressionOptions{}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context())
	}))
	defer srv.Close()

	c, _, err := wsx.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"),
		&wsx.DialOptions{Compression: &wsx.CompressionOptions{NoContextTakeover: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	fmt.Println(c.Extensions())
	// Output:
	// permessage-deflate; client_no_context_takeover
}

// KeepAlive runs beside the read loop and closes connections whose peer stopped answering.
func ExampleConn_KeepAlive() {
	http.HandleFunc("/live", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		go c.KeepAlive(r.Context(), 30*time.Second, 10*time.Second)
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	})
}

// A server that closes every WebSocket with 1001 when it shuts down.
func ExampleGroup() {
	var conns wsx.Group
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, &wsx.AcceptOptions{Group: &conns})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
	go srv.ListenAndServe()

	// ... on SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)   // no new requests; hijacked connections are not its business
	conns.Shutdown(ctx) // every WebSocket gets Close 1001 and the closing handshake
}

// A server checks its options when it starts, not when the first browser connects: here a
// glob that would have let "http://127.evil.example" in is caught.
func ExampleAcceptOptions_Validate() {
	opts := &wsx.AcceptOptions{OriginPatterns: []string{"https://app.example.com", "127.*"}}
	if err := opts.Validate(); err != nil {
		fmt.Println(err)
	}
	opts.OriginPatterns[1] = "127.0.0.0/8:*" // any loopback address, any port
	fmt.Println(opts.Validate())
	// Output:
	// wsx: AcceptOptions.OriginPatterns[1] "127.*": bad host "127.*": "*" stands alone or as the first label ("*.example.com"); for addresses use a prefix such as 127.0.0.0/8
	// <nil>
}

// A development server on a loopback address answers only for its own names, so that a web
// page whose name rebinds to 127.0.0.1 (DNS rebinding) cannot reach it: such a request is
// refused with 421 Misdirected Request.
func ExampleAcceptOptions_hostPatterns() {
	opts := &wsx.AcceptOptions{HostPatterns: []string{"localhost:*", "127.0.0.0/8:*", "[::1]:*"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := wsx.Accept(w, r, opts); err == nil {
			c.Close(wsx.StatusNormalClosure, "")
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := wsx.Dial(ctx, "ws://"+addr+"/", nil)
	fmt.Println(resp.StatusCode, err)

	// The attacker's name, resolved to the server's address.
	rebound := &wsx.DialOptions{NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, addr)
	}}
	_, resp, err = wsx.Dial(ctx, "ws://evil.example:"+port+"/", rebound)
	fmt.Println(resp.StatusCode, err != nil)
	// Output:
	// 101 <nil>
	// 421 true
}

// Uncompressed sends one message as it is on a connection that compresses the others: data
// that is already compressed (JPEG, gzip) gains nothing from permessage-deflate.
func ExampleUncompressed() {
	ctx := context.Background()
	deflate := &wsx.CompressionOptions{}
	client, server, err := wsx.Pipe(&wsx.DialOptions{Compression: deflate}, &wsx.AcceptOptions{Compression: deflate})
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseNow()
	defer server.CloseNow()
	jpeg := []byte{0xff, 0xd8, 0xff, 0xe0}
	if err := server.Write(ctx, wsx.MessageBinary, jpeg, wsx.Uncompressed); err != nil {
		log.Fatal(err)
	}
	typ, msg, err := client.Read(ctx)
	fmt.Println(client.Extensions(), typ, msg, err)
	// Output:
	// permessage-deflate binary [255 216 255 224] <nil>
}
