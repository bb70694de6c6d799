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
type deadline struct {
	// The conn and the direction, rather than a method value such as nc.SetReadDeadline,
	// which would cost newConn an allocation.
	nc    net.Conn
	write bool // the write deadline, else the read deadline

	mu     sync.Mutex
	done   <-chan struct{} // cancellation channel being watched
	stop   func() bool     // stops the watch of done
	active bool            // a call with done is in progress
	// Deadlines in Unix nanoseconds, 0 for none (a time.Time is three times the size, and a
	// connection has two of these).
	ctxAt   int64 // the deadline of the call's context
	stallAt int64 // the stall bound in force
	current int64 // the deadline set on the conn
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
	if done == nil && d.stop == nil && t == 0 && d.current == 0 {
		// Nothing to apply and nothing watching: no lock needed (expire runs only for a
		// watched context, and the other methods only in the goroutine that owns this
		// direction).
		d.ctxAt, d.stallAt = 0, 0
		return nil
	}
	d.mu.Lock()
	if done != d.done {
		if d.stop != nil {
			d.stop()
		}
		d.done, d.stop = done, nil
		if done != nil {
			d.stop = context.AfterFunc(ctx, func() { d.expire(done) })
		}
	}
	d.active = true
	d.ctxAt, d.stallAt = t, 0
	d.setLocked(t)
	d.mu.Unlock()
	return nil
}

// end marks the call begun by begin as finished.
func (d *deadline) end() {
	if d.stop == nil {
		return // nothing watches a context
	}
	d.mu.Lock()
	d.active = false
	d.mu.Unlock()
}

// expire interrupts a call in progress whose context was cancelled.
func (d *deadline) expire(done <-chan struct{}) {
	d.mu.Lock()
	if d.active && d.done == done {
		d.setLocked(aLongTimeAgo)
	}
	d.mu.Unlock()
}

// setAt sets an absolute deadline for work done outside begin/end (the closing handshake).
func (d *deadline) setAt(t time.Time) {
	d.mu.Lock()
	d.ctxAt, d.stallAt = unixNano(t), 0
	d.setLocked(d.ctxAt)
	d.mu.Unlock()
}

// armStall bounds the wait that is about to happen by the stall timeout: a wait of more than
// timeout without progress ends with a timeout for which stalled reports true.
func (d *deadline) armStall(timeout time.Duration) {
	d.mu.Lock()
	d.stallAt = time.Now().Add(timeout).UnixNano()
	if d.current != aLongTimeAgo && (d.ctxAt == 0 || d.stallAt < d.ctxAt) {
		d.setLocked(d.stallAt)
	}
	d.mu.Unlock()
}

// disarmStall lifts the stall bound after progress.
func (d *deadline) disarmStall() {
	d.mu.Lock()
	if d.stallAt != 0 {
		d.stallAt = 0
		if d.current != aLongTimeAgo {
			d.setLocked(d.ctxAt)
		}
	}
	d.mu.Unlock()
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
			d.nc.SetWriteDeadline(tt)
		} else {
			d.nc.SetReadDeadline(tt)
		}
		d.current = t
	}
}

// ctxError turns an I/O error caused by ctx's deadline or cancellation into ctx's error.
func ctxError(ctx context.Context, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
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
