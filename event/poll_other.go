//go:build !linux && !js

package event

import (
	"net"
	"time"
)

// Without epoll, every connection is served by the goroutine driver (goroutines.go): these
// are never called.

type loops struct{}

func newLoops(*Server, int) *loops { return nil }

func (*loops) serve(net.Listener, *error) bool { return false }
func (*loops) stop()                           {}
func (*loops) each(func(*Conn))                {}
func (*loops) workerOf(*Conn) *worker          { return nil }

type worker struct{}

type acceptor struct {
	file interface{ SetReadDeadline(time.Time) error }
}

func (*worker) enqueue(*Conn) {}

func writeFD(int32, []byte, []byte) (int, error) { panic("unreachable") }
func socketAddr(int32, bool) net.Addr            { return nil }
func (c *Conn) adoptSocket() bool                { return false }
func (c *Conn) closeFD()                         {}
func (c *Conn) shutdownFD()                      {}
func (c *Conn) watchFD()                         {}
func (c *Conn) plainFD() []byte                  { return nil }
