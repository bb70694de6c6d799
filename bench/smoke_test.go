package bench

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/wsx-go/wsx/bench/load"
	"github.com/wsx-go/wsx/bench/servers"
)

// TestEchoServers starts every library's echo server in turn and checks, over the load
// generator's own raw client, that it echoes the message of every scenario correctly, holds a
// few idle connections and completes handshakes. It keeps the benchmark compiling and honest;
// it measures nothing.
func TestEchoServers(t *testing.T) {
	for _, name := range servers.Names() {
		t.Run(name, func(t *testing.T) {
			lib, _ := servers.Get(name)
			if lib.Pending != "" {
				t.Skip("pending: " + lib.Pending)
			}
			if lib.Serve == nil {
				t.Skip("no echo server: fan-out only (TestFanoutServers)")
			}
			for _, s := range load.Scenarios {
				if s.Kind == load.KindFanout {
					continue // TestFanoutServers
				}
				t.Run(s.Name, func(t *testing.T) {
					if s.Deflate && lib.DeflatePending != "" {
						t.Skip("pending: " + lib.DeflatePending)
					}
					if s.Deflate && !lib.Deflate {
						t.Skipf("%s has no permessage-deflate here", name)
					}
					if raceEnabled && s.Size > 1<<20 {
						t.Skip("messages over 1 MiB are checked without -race, which slows them past the test's bounds")
					}
					if lib.TLS && s.Kind != load.KindIdle {
						t.Skipf("%s serves TLS: idle scenarios only", name)
					}
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					srv, err := lib.Serve(ln, servers.Options{Deflate: s.Deflate})
					if err != nil {
						t.Fatal(err)
					}
					defer srv.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					d := load.NewDialer(ln.Addr().String(), 4, s.Deflate)
					if lib.TLS {
						d.TLS = &tls.Config{InsecureSkipVerify: true}
					}
					switch s.Kind {
					case load.KindEcho:
						if err := load.Verify(ctx, d, s); err != nil {
							t.Fatal(err)
						}
					case load.KindIdle:
						conns, err := load.Idle(ctx, d, 20, 4, s.ClientFrame())
						if err != nil {
							t.Fatal(err)
						}
						load.Close(conns)
					case load.KindConnect:
						for i := range 5 {
							c, err := d.Dial(ctx, i)
							if err != nil {
								t.Fatal(err)
							}
							c.Abort()
						}
					case load.KindSparse:
						e := load.Sparse{Dialer: d, Conns: 20, InFlight: 5, Frame: s.ClientFrame()}
						if _, err := e.Run(ctx, 10*time.Millisecond, 50*time.Millisecond, func() {}); err != nil {
							t.Fatal(err)
						}
					}
				})
			}
		})
	}
}
