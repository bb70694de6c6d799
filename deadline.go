//go:build !js

package wsx

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// deadline applies the contexts of successive calls to one direction of a net.Conn, as its
// read or write deadline. A context's deadline becomes the conn's; its cancellation is watched
// with context.AfterFunc, registered once per distinct cancellation channel, so a loop that
// reuses one context (a request's, say) costs no allocation per call.
//
// It also keeps the stall bound (ConnOptions.StallTimeout): while the peer owes us bytes (a
// message in progress) or room (a write in progress), I/O that waits is given a deadline that
// many seconds away, unless the context's comes first; stalled tells the two apart.
//
// A bound lasts as long as what it bounds, never longer: a call's ends with the call (end), a
// control frame's when the frame is out (setAt with the zero time), the stall bound with the
// wait it bounds (disarmStall, or the next armStall). What is left on the conn after them is
// lifted before the next I/O that has no bound of its own (settle), so that it cannot cut short
// I/O that comes later: a Pong written after a call whose deadline has passed, a read that waits
// for the next message after a frame that arrived in pieces.
type deadline struct {
	// The connection and the direction, rather than a method value such as
	// nc.SetReadDeadline, which would cost an allocation.
	owner deadlineOwner
	write bool // the write deadline, else the read deadline

	active bool // a call with a watched context is in progress; under mu, as are the fields below
	ended  bool // the connection has ended: no context is watched any more
	mu     sync.Mutex
	watch  *ctxWatch // the side's watch, which the Conn keeps
	// Deadlines in Unix nanoseconds, 0 for none (a time.Time is three times the size, and a
	// connection has two of these).
	ctxAt   int64 // the deadline of the call's context, or setAt's; 0 outside a call
	stallAt int64 // the stall bound in force
	waitAt  int64 // a further bound of the wait in progress (armWait)
	current int64 // the deadline set on the conn
}

// ctxWatch is the watch of the cancellation of the context a side's calls run under. The Conn
// keeps it rather than the side's working state, so that a side whose calls reuse one
// long-lived context can give its state back between calls and find the watch again.
type ctxWatch struct {
	done <-chan struct{} // the cancellation channel being watched
	stop func() bool     // stops the watch of done
}

// idle reports whether d leaves nothing on the conn between calls. The caller owns the
// direction and holds Conn.mu, under which a watch's expire sets current.
func (d *deadline) idle() bool { return d.current == 0 }

// deadlineOwner is the connection a deadline belongs to (a Conn): it has the net.Conn whose
// deadlines are set, and finds the deadline again for a watch that fires, as the deadline may
// have gone back to its pool meanwhile (idle.go).
type deadlineOwner interface {
	conn() net.Conn
	expire(write bool, done <-chan struct{})
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked I/O return at once.
const aLongTimeAgo = int64(time.Second)

// unixNano returns t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// begin applies ctx to the next call, or returns ctx's error if it is already done.
func (d *deadline) begin(ctx context.Context) error {
	done := ctx.Done()
	if done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
	}
	dl, _ := ctx.Deadline()
	t := unixNano(dl)
	if done == nil && d.watch.stop == nil && t == 0 && d.current == 0 {
		// Nothing to apply and nothing watching: no lock needed (expire runs only for a
		// watched context, and the other methods only in the goroutine that owns this
		// direction).
		d.ctxAt, d.stallAt, d.waitAt = 0, 0, 0
		return nil
	}
	d.mu.Lock()
	if w := d.watch; done != w.done {
		if w.stop != nil {
			w.stop()
		}
		w.done, w.stop = done, nil
		if done != nil && !d.ended {
			owner, write := d.owner, d.write
			w.stop = context.AfterFunc(ctx, func() { owner.expire(write, done) })
		}
	}
	d.active = true
	d.ctxAt, d.stallAt, d.waitAt = t, 0, 0
	d.setLocked(t)
	d.mu.Unlock()
	return nil
}

// end marks the call begun by begin as finished: its bound ends with it.
func (d *deadline) end() {
	d.ctxAt = 0 // only the goroutine that owns this direction reads it
	if d.watch.stop == nil {
		return // nothing watches a context
	}
	d.mu.Lock()
	d.active = false
	d.mu.Unlock()
}

// release stops watching a context, for good: the connection has ended, and a context that
// outlives it (a server's) must not keep it reachable.
func (d *deadline) release() {
	d.mu.Lock()
	d.ended = true
	d.watch.end()
	d.mu.Unlock()
}

// forget stops watching the context of the calls made so far and lifts their bounds from the
// conn, for a side that goes idle after calls of wsx's own (settleRead).
func (d *deadline) forget() {
	d.mu.Lock()
	if w := d.watch; w.stop != nil {
		w.stop()
		w.done, w.stop = nil, nil
	}
	d.active = false
	d.ctxAt, d.stallAt, d.waitAt = 0, 0, 0
	d.setLocked(0)
	d.mu.Unlock()
}

// end stops the watch for good (stop stays set: the owner reads it without a lock).
func (w *ctxWatch) end() {
	if w.stop != nil {
		w.stop()
	}
}

// expire interrupts a call in progress whose context was cancelled; the caller holds Conn.mu.
func (d *deadline) expire(done <-chan struct{}) {
	d.mu.Lock()
	if d.active && d.watch.done == done {
		d.setLocked(aLongTimeAgo)
	}
	d.mu.Unlock()
}

// setAt sets an absolute deadline for work done outside begin/end (the closing handshake).
func (d *deadline) setAt(t time.Time) {
	d.mu.Lock()
	d.ctxAt, d.stallAt, d.waitAt = unixNano(t), 0, 0
	d.setLocked(d.ctxAt)
	d.mu.Unlock()
}

// armStall bounds the wait that is about to happen by the stall timeout, counted from since
// (Unix nanoseconds; 0 for now): a wait that lasts until then without progress ends with a
// timeout for which stalled reports true.
func (d *deadline) armStall(since int64, timeout time.Duration) { d.armWait(0, since, timeout) }

// armWait is armStall with bound (Unix nanoseconds, 0 for none) as a further bound of this wait
// only, and timeout 0 for no stall bound.
func (d *deadline) armWait(bound, since int64, timeout time.Duration) {
	stallAt := int64(0)
	if timeout > 0 {
		if since == 0 {
			since = time.Now().UnixNano()
		}
		stallAt = since + int64(timeout)
	}
	d.mu.Lock()
	d.stallAt, d.waitAt = stallAt, bound
	d.applyLocked()
	d.mu.Unlock()
}

// disarmStall lifts the bounds of a wait (armWait) after progress.
func (d *deadline) disarmStall() {
	if d.stallAt == 0 && d.waitAt == 0 {
		return // only the goroutine that owns this direction sets them
	}
	d.mu.Lock()
	d.stallAt, d.waitAt = 0, 0
	d.applyLocked()
	d.mu.Unlock()
}

// settle lifts what an ended call or wait left on the conn before I/O whose only bound is the
// one in force.
func (d *deadline) settle() {
	if d.watch.stop == nil && d.current == d.inForce() {
		return // nothing else sets the conn's deadline when no context is watched
	}
	d.mu.Lock()
	d.applyLocked()
	d.mu.Unlock()
}

// inForce returns the bound of the I/O about to happen: the call's (or setAt's), or the stall
// bound when that comes first; 0 for none.
func (d *deadline) inForce() int64 {
	t := d.ctxAt
	for _, b := range [2]int64{d.waitAt, d.stallAt} {
		if b != 0 && (t == 0 || b < t) {
			t = b
		}
	}
	return t
}

// applyLocked sets the bound in force on the conn, unless the call in progress was cancelled
// (expire): that stands until the call ends.
func (d *deadline) applyLocked() {
	if !(d.active && d.current == aLongTimeAgo) {
		d.setLocked(d.inForce())
	}
}

// stalled reports whether a timeout that just happened was the stall bound's rather than the
// context's.
func (d *deadline) stalled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stallAt != 0 && d.current == d.stallAt && time.Now().UnixNano() >= d.stallAt
}

func (d *deadline) setLocked(t int64) {
	if t != d.current {
		var tt time.Time
		if t != 0 {
			tt = time.Unix(0, t)
		}
		if d.write {
			d.owner.conn().SetWriteDeadline(tt)
		} else {
			d.owner.conn().SetReadDeadline(tt)
		}
		d.current = t
	}
}

// ctxError turns an I/O error caused by ctx's deadline or cancellation into ctx's error. A
// write the stall bound cut off stays what it is (stallError).
func ctxError(ctx context.Context, err error) error {
	if _, stalled := err.(*stallError); stalled || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if _, ok := ctx.Deadline(); ok {
		return context.DeadlineExceeded
	}
	return err
}
