package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/wsx-go/wsx"
)

// Two wsx serve processes joined by --nats (a NATS server embedded in the test, on loopback)
// deliver each other's broadcasts to the clients on the same path, in the order each client
// sent them, and to nobody on other paths.
func TestServeBroadcastNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	s1 := startServe(t, "--broadcast", "--nats", ns.ClientURL())
	s2 := startServe(t, "--broadcast", "--nats", ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A join message ("a is in") published before the other client joined may still be on its
	// way through NATS when that one joins: it arrives there at any point, or not at all.
	read := func(c *wsx.Conn, want string) {
		t.Helper()
		for {
			_, msg, err := c.Read(ctx)
			if err == nil && strings.HasSuffix(string(msg), " is in") && string(msg) != want {
				continue
			}
			if err != nil || string(msg) != want {
				t.Fatalf("got %q, %v; want %q", msg, err, want)
			}
			return
		}
	}

	// A client is subscribed once its own message comes back to it.
	a := dialTest(t, s1.url+"room", nil)
	roundTrip(t, a, wsx.MessageText, []byte("a is in"))
	b := dialTest(t, s2.url+"room", nil)
	if err := b.Write(ctx, wsx.MessageText, []byte("b is in")); err != nil {
		t.Fatal(err)
	}
	read(b, "b is in")
	read(a, "b is in")
	other := dialTest(t, s1.url+"elsewhere", nil)
	roundTrip(t, other, wsx.MessageText, []byte("alone"))

	for i := range 100 {
		if err := b.Write(ctx, wsx.MessageText, []byte(fmt.Sprint("from b ", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		read(a, fmt.Sprint("from b ", i))
		read(b, fmt.Sprint("from b ", i))
	}
	if err := a.Write(ctx, wsx.MessageBinary, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	read(b, "from a")
	read(a, "from a")
	roundTrip(t, other, wsx.MessageText, []byte("still alone"))

	if r := runWSX(t, ctx, nil, "serve", "--nats", ns.ClientURL()); r.code != exitUsage {
		t.Errorf("--nats without --broadcast: exit %d, %q", r.code, r.stderr)
	}
}
