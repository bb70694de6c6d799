// Package deadline provides the movable deadline behind a net.Conn's SetReadDeadline and
// SetWriteDeadline: a channel that closes when the deadline passes, so that a blocked call
// selecting on it returns, while the deadline can still be moved, earlier or later, by another
// goroutine, and set again after it has passed.
package deadline

import (
	"os"
	"sync"
	"time"
)

// Timer is a movable deadline. The zero value has no deadline and is ready to use.
//
// Done returns a channel that is closed once the deadline passes, or when the Timer is stopped
// for good with Close. Moving the deadline later before it passes keeps the same channel, so a
// call blocked on it keeps waiting; setting a deadline after the previous one passed starts a
// new channel for the calls to come.
//
// Timer also implements the AfterFunc method that context.AfterFunc looks for, so that a type
// built on Timer can serve as a context.Context without a goroutine per registration.
type Timer struct {
	mu      sync.Mutex
	t       time.Time   // the deadline; zero for none
	timer   *time.Timer // runs fire at t; nil until a deadline is first set
	done    chan struct{}
	expired bool  // done is closed
	err     error // set by Close: done stays closed with this error
	funcs   []*afterFunc
}

// afterFunc is a function registered with AfterFunc, to run when done closes.
type afterFunc struct{ f func() }

// Set moves the deadline to t; the zero time means none. A t in the past expires the deadline
// at once. After Close, Set does nothing.
func (d *Timer) Set(t time.Time) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	d.t = t
	past := !t.IsZero() && !time.Now().Before(t)
	if d.expired {
		if past {
			d.mu.Unlock()
			return // still expired: the closed channel stays
		}
		d.done, d.expired = nil, false // a fresh channel for the calls to come
	}
	switch {
	case t.IsZero():
		if d.timer != nil {
			d.timer.Stop()
		}
	case past:
		funcs := d.expireLocked(nil)
		d.mu.Unlock()
		run(funcs)
		return
	case d.timer == nil:
		d.timer = time.AfterFunc(time.Until(t), d.fire)
	default:
		d.timer.Reset(time.Until(t))
	}
	d.mu.Unlock()
}

// fire runs when the timer goes off. The deadline may have moved later since the timer was
// set (a Reset cannot stop a run that has started), so it checks.
func (d *Timer) fire() {
	d.mu.Lock()
	if d.expired || d.t.IsZero() || time.Now().Before(d.t) {
		d.mu.Unlock()
		return
	}
	funcs := d.expireLocked(nil)
	d.mu.Unlock()
	run(funcs)
}

// Close closes the channel for good: Err reports err from then on, whatever Set is called
// with. Closing again does nothing.
func (d *Timer) Close(err error) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	var funcs []*afterFunc
	if d.expired {
		d.err = err
	} else {
		funcs = d.expireLocked(err)
	}
	d.mu.Unlock()
	run(funcs)
}

// expireLocked closes the current channel and returns the functions to run now.
func (d *Timer) expireLocked(err error) []*afterFunc {
	if d.done == nil {
		d.done = make(chan struct{})
	}
	close(d.done)
	d.expired, d.err = true, err
	funcs := d.funcs
	d.funcs = nil
	return funcs
}

func run(funcs []*afterFunc) {
	for _, a := range funcs {
		a.f()
	}
}

// Done returns the channel that closes when the current deadline passes.
func (d *Timer) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done == nil {
		d.done = make(chan struct{})
	}
	return d.done
}

// Err returns nil while Done is open, and then os.ErrDeadlineExceeded, or the error given to
// Close.
func (d *Timer) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.err != nil:
		return d.err
	case d.expired:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// AfterFunc arranges for f to run once the channel Done returns now closes; stop cancels that
// and reports whether it did so before f ran. It is the method context.AfterFunc uses when a
// context has one. f runs in the goroutine that closes the channel, or in a goroutine of its
// own when the channel is closed already, so that it never runs under its caller's locks.
func (d *Timer) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	d.mu.Lock()
	if d.expired {
		d.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	d.funcs = append(d.funcs, a)
	d.mu.Unlock()
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, b := range d.funcs {
			if b == a {
				d.funcs = append(d.funcs[:i], d.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}
