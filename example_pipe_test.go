//go:build !js

package wsx_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/wsx-go/wsx"
)

// shout is the handler under test: it answers every message in upper case.
func shout(ctx context.Context, c *wsx.Conn) error {
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if err := c.Write(ctx, typ, bytes.ToUpper(msg)); err != nil {
			return err
		}
	}
}

// Pipe tests a handler without a network: the handler gets the server's end, with the
// options it runs with in production, and the test drives the client's.
func ExamplePipe() {
	ctx := context.Background()
	client, server, err := wsx.Pipe(
		&wsx.DialOptions{Subprotocols: []string{"shout.v1"}},
		&wsx.AcceptOptions{Subprotocols: []string{"shout.v1"}, Compression: &wsx.CompressionOptions{}},
	)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- shout(ctx, server) }()

	client.Write(ctx, wsx.MessageText, []byte("hello"))
	_, msg, err := client.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg), server.Subprotocol())
	fmt.Println(client.Close(wsx.StatusNormalClosure, "done"))
	fmt.Println(<-done)
	// Output:
	// HELLO shout.v1
	// <nil>
	// wsx: peer closed the connection with status 1000 (normal closure): "done"
}
