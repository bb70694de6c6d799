//go:build !js

package wsx

import (
	"net"
	"sync"
)

// What a Conn holds while it is idle is what it must keep between calls: the transport, the
// options, the locks and the sticky errors. Each side's working state (the engine's half, the
// deadline, the buffers, what a message in progress needs) comes from a pool when a read or
// write begins and goes back once it ends with nothing left in it; the reading side gives it
// back too while it waits for the peer, so that a read loop parked between messages holds none.
// See idle_test.go for what an idle connection costs.

// readStates and sendStates hold the working states of idle connections' two sides.
var readStates, sendStates sync.Pool

// attachRead gives the reading side its working state, if it has none; the caller holds the
// read lock.
func (c *Conn) attachRead() {
	if !c.attachPooledRead() {
		c.adoptRead(new(readState))
	}
}

// attachPooledRead is attachRead for the raw read path, where the stack has no room for the
// allocator's call chain: it reports false when it needs a new state and the pool has none.
func (c *Conn) attachPooledRead() bool {
	if c.r.readState == nil {
		st, _ := readStates.Get().(*readState)
		if st == nil {
			return false
		}
		c.adoptRead(st)
	}
	return true
}

// parkRead gives the reading side's working state back to its pool when it holds nothing: no
// buffered input, no message in progress, no context watched. The caller holds the read lock.
// It runs while a read waits for the peer (rawRead), so a read path may keep a pointer into the
// state across a read only while a message is in progress (handed); elsewhere it goes through
// c.r each time.
func (c *Conn) parkRead() {
	st := c.r.readState
	if st == nil || st.buf != nil || !st.eng.Idle() || st.handed || st.resume || st.queuing || st.stalling ||
		st.held.holding() || st.grown != 0 || len(st.queued) != 0 {
		return
	}
	c.mu.Lock() // a watch's expire sets the deadline under it
	if c.r.watch.stop != nil || !st.dl.idle() {
		c.mu.Unlock()
		return // (a read whose context is watched waits with its state: a cancellation interrupts it there)
	}
	c.r.readState = nil
	c.mu.Unlock()
	putReadState(st)
}

// putReadState gives st, which the reading side no longer has, back to its pool.
func putReadState(st *readState) {
	*st = readState{}
	readStates.Put(st)
}

// expire interrupts the call in progress in one direction of c, if its context was cancelled.
// It finds the deadline through c: a watch that begin could not stop any more may run after
// its side's working state went back to its pool.
func (c *Conn) expire(write bool, done <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if write && c.w.sendState != nil {
		c.w.dl.expire(done)
	} else if !write && c.r.readState != nil {
		c.r.dl.expire(done)
	}
}

// conn is the transport, for its deadlines.
func (c *Conn) conn() net.Conn { return c.nc }

// settleRead gives the reading side's state back after wsx read by itself (Ping), unless the
// read stopped at buffered input: nobody reads the connection meanwhile, perhaps for good (a
// connection the application only writes to), and the application's next read takes a state
// again. The watch of Ping's context ends here rather than waiting for a next call under the
// same context, which wsx's own reads do not make. The caller holds the read lock.
func (c *Conn) settleRead() {
	if c.r.readState == nil || c.r.err != nil {
		return // unlockRead drops what an ended read side holds
	}
	c.r.dl.forget()
	c.releaseReadBuffer()
	c.parkRead()
}
