package wsx_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/wsx-go/wsx"
)

// In a browser (GOOS=js GOARCH=wasm), Dial opens the browser's WebSocket, and the rest of the
// API works on it as elsewhere: here JSON messages, with the page's own origin and cookies sent
// by the browser.
func ExampleDial_browser() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, "wss://example.com/events", &wsx.DialOptions{
		Subprotocols: []string{"events.v1"},
		ConnOptions:  wsx.ConnOptions{ReadLimit: 1 << 20},
	})
	if err != nil {
		log.Fatal(err) // the browser does not say why; its console does
	}
	defer c.Close(wsx.StatusNormalClosure, "")
	if err := wsx.WriteJSON(ctx, c, map[string]string{"subscribe": "prices"}); err != nil {
		log.Fatal(err)
	}
	var event struct {
		Symbol string  `json:"symbol"`
		Price  float64 `json:"price"`
	}
	if err := wsx.ReadJSON(ctx, c, &event); err != nil {
		log.Fatal(err)
	}
	fmt.Println(event.Symbol, event.Price)
}
