//go:build !js

package wsx_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/wsx-go/wsx"
)

// HTTP over a WebSocket: an http.Client whose connections are NetConns. In production the
// dialer would be
//
//	DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
//		c, _, err := wsx.Dial(ctx, "wss://example.com/tunnel", nil)
//		if err != nil {
//			return nil, err
//		}
//		return wsx.NetConn(c, wsx.MessageBinary), nil
//	},
//
// and the server would hand the NetConns of the WebSockets it accepts to an http.Server
// through a net.Listener. Here both ends come from Pipe.
func ExampleNetConn() {
	client, server, err := wsx.Pipe(nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		// The server's end speaks HTTP/1.1 over the byte stream.
		nc := wsx.NetConn(server, wsx.MessageBinary)
		defer nc.Close()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		body := "hello from " + req.URL.Path
		resp := &http.Response{StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
			ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body))}
		resp.Write(nc)
	}()

	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return wsx.NetConn(client, wsx.MessageBinary), nil
		},
	}}
	resp, err := hc.Get("http://tunnel/over-websocket")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hc.CloseIdleConnections()
	fmt.Println(resp.Status, string(body))
	// Output:
	// 200 OK hello from /over-websocket
}
