package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

// writeWatch enforces a server's write timeout on its WebSocket connections: a client that
// stops reading is disconnected instead of holding its connection, a goroutine and the data
// it was sent forever.
//
// A write costs two atomic stores on a field of its own connection: it marks when it began
// on a coarse clock, and clears the mark when it ends. A goroutine of the watch wakes eight
// times per timeout, advances the clock and closes the connections whose write has lasted
// longer than the timeout: after it, and at most a quarter of it later. Deadlines on the
// socket would do the same at a higher price: setting one on every write is a system call's
// worth of work and, done from the goroutine that waits for the connection's messages, the
// depth of the runtime's timer code doubles that goroutine's stack for good (2 to 4 KiB per
// idle connection).
type writeWatch struct {
	timeout time.Duration
	tick    time.Duration
	start   time.Time
	clock   atomic.Int64 // nanoseconds from start to the last tick, plus 1: never 0

	mu    sync.Mutex
	conns watchedConn // sentinel of the circular list of watched connections
	stop  chan struct{}
	done  chan struct{}
}

// watchedConn is a connection under a writeWatch. It goes in the structure that holds the
// connection, so that watching costs no allocation.
type watchedConn struct {
	w          *writeWatch
	c          *wsx.Conn
	since      atomic.Int64 // the clock when the write in progress began, or 0
	timedOut   atomic.Bool  // the watch closed the connection
	prev, next *watchedConn
}

// newWriteWatch starts watching for writes that last longer than timeout; stop ends it.
func newWriteWatch(timeout time.Duration) *writeWatch {
	w := &writeWatch{timeout: timeout, tick: max(timeout/8, time.Millisecond), start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.clock.Store(1)
	w.conns.prev, w.conns.next = &w.conns, &w.conns
	go w.run()
	return w
}

func (w *writeWatch) run() {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var late []*watchedConn
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		now := int64(time.Since(w.start)) + 1
		w.clock.Store(now)
		// A write stamped s began at most a tick after s: it has lasted longer than the
		// timeout when now-s exceeds the timeout and a tick.
		limit := int64(w.timeout + w.tick)
		late = late[:0]
		w.mu.Lock()
		for wc := w.conns.next; wc != &w.conns; wc = wc.next {
			if s := wc.since.Load(); s != 0 && now-s > limit {
				late = append(late, wc)
			}
		}
		w.mu.Unlock()
		for _, wc := range late {
			wc.timedOut.Store(true)
			wc.c.CloseNow() // the write in progress fails
		}
	}
}

// close stops the watch.
func (w *writeWatch) close() {
	close(w.stop)
	<-w.done
}

// add starts watching the writes of c through wc.
func (w *writeWatch) add(wc *watchedConn, c *wsx.Conn) {
	wc.w, wc.c = w, c
	w.mu.Lock()
	wc.prev, wc.next = w.conns.prev, &w.conns
	w.conns.prev.next = wc
	w.conns.prev = wc
	w.mu.Unlock()
}

// remove stops watching wc.
func (wc *watchedConn) remove() {
	w := wc.w
	w.mu.Lock()
	wc.prev.next, wc.next.prev = wc.next, wc.prev
	wc.prev, wc.next = nil, nil
	w.mu.Unlock()
}

// write sends a message on the watched connection. One goroutine writes at a time.
func (wc *watchedConn) write(ctx context.Context, typ wsx.MessageType, p []byte) error {
	wc.begin()
	err := wc.c.Write(ctx, typ, p)
	wc.end()
	return err
}

// begin marks the start of a write, for a caller that cannot spare write's stack frame.
func (wc *watchedConn) begin() { wc.since.Store(wc.w.clock.Load()) }

// end marks the end of a write begun with begin.
func (wc *watchedConn) end() { wc.since.Store(0) }

// timeoutError returns the error to report for a connection that ended with err: one that
// names the write timeout when the watch closed it.
func (wc *watchedConn) timeoutError(err error) error {
	if err != nil && wc.timedOut.Load() {
		return errWriteTimeout
	}
	return err
}

// errWriteTimeout reports a connection closed because a write to it lasted longer than the
// write timeout.
var errWriteTimeout = errors.New("the client took no data for the write timeout (--write-timeout)")
