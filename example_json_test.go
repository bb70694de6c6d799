//go:build !js

package wsx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wsx-go/wsx"
)

// A JSON protocol: each message is one value.
func ExampleReadJSON() {
	type Request struct {
		Op   string `json:"op"`
		Args []int  `json:"args"`
	}
	type Reply struct {
		Sum int `json:"sum"`
	}
	ctx := context.Background()
	client, server, err := wsx.Pipe(nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.CloseNow()
	go func() { // the server: one reply per request
		defer server.CloseNow()
		for {
			var req Request
			if err := wsx.ReadJSON(ctx, server, &req); err != nil {
				if wsx.CloseStatus(err) >= 0 {
					return // the client closed
				}
				wsx.WriteJSON(ctx, server, map[string]string{"error": err.Error()})
				continue
			}
			var reply Reply
			for _, n := range req.Args {
				reply.Sum += n
			}
			wsx.WriteJSON(ctx, server, reply)
		}
	}()

	wsx.WriteJSON(ctx, client, Request{Op: "sum", Args: []int{1, 2, 3}})
	var reply Reply
	if err := wsx.ReadJSON(ctx, client, &reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Sum)

	client.Write(ctx, wsx.MessageText, []byte(`{"op": "sum", "args": [1, 2`))
	_, msg, _ := client.Read(ctx)
	fmt.Println(string(msg))
	// Output:
	// 6
	// {"error":"wsx: ReadJSON: the message ends inside a JSON value"}
}
