//go:build !js

package wsx

import (
	"sync"

	"github.com/wsx-go/wsx/internal/engine"
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
	if c.r.readState == nil {
		st, _ := readStates.Get().(*readState)
		if st == nil {
			st = new(readState)
		}
		c.adoptRead(st)
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

// adoptRead makes st, a zero readState, the reading side's working state.
func (c *Conn) adoptRead(st *readState) {
	st.dl.c = c
	st.engLimit = c.r.limit.Load()
	st.eng.Init(engine.Config{Client: c.client, ReadLimit: st.engLimit, MaxFragments: int(c.opts.maxFragments), Inflater: c.ext.inflater})
	c.mu.Lock()
	st.dl.ended = c.closing.closed.Load() // closeTransport no longer releases what it cannot see
	c.r.readState = st
	c.mu.Unlock()
}

// parkRead gives the reading side's working state back to its pool when it holds nothing: no
// buffered input, no message in progress, no context watched. The caller holds the read lock.
// It runs while a read waits for the peer (rawRead), so a read path may keep a pointer into the
// state across a read only while a message is in progress (handed); elsewhere it goes through
// c.r each time.
func (c *Conn) parkRead() {
	st := c.r.readState
	if st == nil || st.buf != nil || !st.eng.Idle() || st.handed || st.resume || st.queuing || st.stalling ||
		st.held.holding() || st.grown != 0 || len(st.queued) != 0 || !st.dl.idle() {
		return
	}
	c.mu.Lock()
	c.r.readState = nil
	c.mu.Unlock()
	*st = readState{}
	readStates.Put(st)
}

// dropRead gives the reading side's working state back once the read side has ended, unless it
// keeps messages that Close read for the application. The caller holds the read lock.
func (c *Conn) dropRead() {
	st := c.r.readState
	if st == nil || len(st.queued) > 0 {
		return
	}
	c.releaseMessage()
	st.pos = st.end
	c.releaseReadBuffer()
	c.mu.Lock()
	c.r.readState = nil
	c.mu.Unlock()
	st.dl.release() // a late watch finds no state (Conn.expire)
	*st = readState{}
	readStates.Put(st)
}

// beginSend gives the sending side its working state, for a caller that has just taken msgLock
// or frameLock; endSend, called before the lock is released, gives it back when nothing is left
// in it. A caller that holds msgLock needs no second call for frameLock.
func (c *Conn) beginSend() {
	c.mu.Lock()
	if c.w.sendState == nil {
		st, _ := sendStates.Get().(*sendState)
		if st == nil {
			st = new(sendState)
			st.bindRaw() // once for the state's life, not for each connection
		}
		st.c = c
		st.dl.c, st.dl.write = c, true
		st.dl.ended = c.closing.closed.Load()
		scfg := c.ext.sender
		scfg.Client = c.client
		st.eng.Init(scfg)
		c.w.sendState = st
	}
	c.w.users++
	c.mu.Unlock()
}

// endSend ends the use of the sending side's working state that beginSend began. Once nothing
// more can be sent (the transport is closed, or a write failed), the state goes back whatever it
// holds.
func (c *Conn) endSend() {
	c.mu.Lock()
	c.w.users--
	if c.w.users > 0 {
		c.mu.Unlock() // the other holder's fields are its own until it ends too
		return
	}
	st := c.w.sendState
	idle := st.buf == nil && st.held == nil && st.stalledSince == 0 && st.raw.bound == 0 && st.eng.Idle() && st.dl.idle()
	ended := !idle && (c.closing.closed.Load() || c.w.err != nil)
	if !idle && !ended {
		c.mu.Unlock()
		return
	}
	c.w.sendState = nil
	c.mu.Unlock()
	if ended {
		st.dl.release() // a late watch finds no state (Conn.expire)
		if st.bufp != nil {
			writeBuffers.Put(st.bufp)
		}
		if st.held != nil {
			*st.held = (*st.held)[:0]
			holdBuffers.Put(st.held)
			c.w.holding.Store(false)
		}
	}
	*st = sendState{raw: rawWrites{fn: st.raw.fn}}
	sendStates.Put(st)
}
