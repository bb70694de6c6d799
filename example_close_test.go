//go:build !js

package wsx_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/wsx-go/wsx"
)

// CloseError.Local tells the two ends of one closing handshake apart: the side that sent
// the first Close reads its own close, answered by the peer; the other reads the peer's.
func ExampleCloseError_local() {
	ctx := context.Background()
	client, server, err := wsx.Pipe(nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	serverErr := make(chan error, 1)
	go func() {
		_, _, err := server.Read(ctx) // answers the client's Close
		serverErr <- err
	}()
	client.Close(wsx.StatusGoingAway, "bye")
	_, _, err = client.Read(ctx)

	var ce *wsx.CloseError
	for _, err := range []error{err, <-serverErr} {
		if errors.As(err, &ce) {
			fmt.Println(ce.Local, wsx.CloseStatus(err), err)
		}
	}
	// Output:
	// true 1001 (going away) wsx: connection closed by this endpoint; the peer answered with status 1001 (going away): "bye"
	// false 1001 (going away) wsx: peer closed the connection with status 1001 (going away): "bye"
}
