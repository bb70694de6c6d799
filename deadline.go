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
type deadline struct {
	// The conn and the direction, rather than a method value such as nc.SetReadDeadline,
	// which would cost newConn an allocation.
	nc    net.Conn
	write bool // the write deadline, else the read deadline

	mu      sync.Mutex
	done    <-chan struct{} // cancellation channel being watched
	stop    func() bool     // stops the watch of done
	active  bool            // a call with done is in progress
	current time.Time       // the deadline set on the conn
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

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
	t, _ := ctx.Deadline()
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
	d.setLocked(t)
	d.mu.Unlock()
	return nil
}

// end marks the call begun by begin as finished.
func (d *deadline) end() {
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
	d.setLocked(t)
	d.mu.Unlock()
}

func (d *deadline) setLocked(t time.Time) {
	if !t.Equal(d.current) {
		if d.write {
			d.nc.SetWriteDeadline(t)
		} else {
			d.nc.SetReadDeadline(t)
		}
		d.current = t
	}
}

// ctxError turns an I/O error caused by ctx's deadline or cancellation into ctx's error, and
// reports whether it did.
func ctxError(ctx context.Context, err error) (error, bool) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err, false
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr, true
	}
	if _, ok := ctx.Deadline(); ok {
		return context.DeadlineExceeded, true
	}
	return err, true
}
