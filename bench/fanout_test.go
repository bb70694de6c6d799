package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/bench/servers"
)

// TestFanoutServers starts every library's fan-out server and checks, with the load
// generator's raw clients, that it delivers every fan-out scenario's message intact to every
// subscriber, then runs a small fan-out load on it (20 subscribers) and checks that messages
// were delivered. It measures nothing.
func TestFanoutServers(t *testing.T) {
	for _, name := range servers.Names() {
		lib, _ := servers.Get(name)
		if lib.Fanout == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, s := range load.Scenarios {
				if s.Kind != load.KindFanout {
					continue
				}
				t.Run(s.Name, func(t *testing.T) {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					srv, err := lib.Fanout(ln, servers.Options{Deflate: s.Deflate})
					if err != nil {
						t.Fatal(err)
					}
					defer srv.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					d := load.NewDialer(ln.Addr().String(), 4, s.Deflate)
					if err := load.VerifyFanout(ctx, d, s, 512); err != nil {
						t.Fatal(err)
					}
					f := load.Fanout{Dialer: d, Subscribers: 20, Window: s.InFlight, Burst: s.Burst, Frame: s.PublisherFrame()}
					res, err := f.Run(ctx, 50*time.Millisecond, 100*time.Millisecond, func() {})
					if err != nil {
						t.Fatal(err)
					}
					if res.Count == 0 || res.P50 <= 0 {
						t.Fatalf("%+v", res)
					}
				})
			}
		})
	}
}
