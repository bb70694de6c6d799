// Package expiry provides the movable deadline behind a net.Conn's SetReadDeadline and
// SetWriteDeadline: a channel that closes when the deadline passes, so that a blocked call
// selecting on it returns, while the deadline can still be moved, earlier or later, by another
// goroutine, and set again after it has passed.
package expiry

import (
	"context"
	"os"
	"sync"
	"time"
)

// Timer is a movable deadline. The zero value has no deadline and is ready to use.
//
// Done returns a channel that is closed once the deadline passes, or when the Timer is stopped
// for good with Close. Moving the deadline later before it passes keeps the same channel, so a
// call blocked on it keeps waiting; setting a deadline after the previous one passed starts a
// new channel for the calls to come. Each channel, with its error, is a generation of the
// Timer; Context returns the current one as a context.Context.
type Timer struct {
	mu    sync.Mutex
	t     time.Time   // the deadline; zero for none
	timer *time.Timer // runs fire at t; nil until a deadline is first set
	gen   *generation // nil until first needed
	err   error       // set by Close
}

// generation is one channel of a Timer, from its creation until it closes. Once closed, its
// error never changes, as context.Context requires of Err.
type generation struct {
	d     *Timer
	done  chan struct{}
	err   error        // written before done closes
	funcs []*afterFunc // under d.mu: what AfterFunc registered, to run when done closes
}

// afterFunc is a function registered with AfterFunc.
type afterFunc struct{ f func() }

// current returns the open generation, or the closed one if the deadline has passed.
func (d *Timer) current() *generation {
	if d.gen == nil {
		d.gen = &generation{d: d, done: make(chan struct{})}
	}
	return d.gen
}

func (g *generation) closed() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

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
	if d.gen != nil && d.gen.closed() {
		if past {
			d.mu.Unlock()
			return // still expired: the closed channel stays
		}
		d.gen = nil // a fresh generation for the calls to come
	}
	switch {
	case t.IsZero():
		if d.timer != nil {
			d.timer.Stop()
		}
	case past:
		funcs := d.expireLocked(os.ErrDeadlineExceeded)
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
	if !d.passedLocked() {
		d.mu.Unlock()
		return
	}
	funcs := d.expireLocked(os.ErrDeadlineExceeded)
	d.mu.Unlock()
	run(funcs)
}

// passedLocked reports whether the deadline has passed and its generation is still open.
func (d *Timer) passedLocked() bool {
	return d.err == nil && !d.t.IsZero() && !time.Now().Before(d.t) && !d.current().closed()
}

// Close closes the channel for good: Err reports err from then on, whatever Set is called
// with. Closing again does nothing.
func (d *Timer) Close(err error) {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return
	}
	d.err = err
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.gen != nil && d.gen.closed() {
		d.gen = nil // a closed generation for the close error
	}
	funcs := d.expireLocked(err)
	d.mu.Unlock()
	run(funcs)
}

// expireLocked closes the current generation with err and returns the functions to run now.
func (d *Timer) expireLocked(err error) []*afterFunc {
	g := d.current()
	g.err = err
	close(g.done)
	funcs := g.funcs
	g.funcs = nil
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
	return d.current().done
}

// Err returns nil while the deadline has not passed, and then os.ErrDeadlineExceeded, or the
// error given to Close. It reads the clock: a deadline that has passed counts as passed even
// before the timer has run, so that of two calls failing for deadlines set to the same time,
// neither sees the other's failure first.
func (d *Timer) Err() error {
	d.mu.Lock()
	if d.passedLocked() {
		funcs := d.expireLocked(os.ErrDeadlineExceeded)
		d.mu.Unlock()
		run(funcs)
		return os.ErrDeadlineExceeded
	}
	g := d.current()
	d.mu.Unlock()
	return g.Err()
}

// Context returns the current generation as a context.Context: Done is its channel, Err its
// error once the channel is closed, and neither changes afterwards. It reports no deadline
// (the deadline may still move) and holds no values. It also has the AfterFunc method that
// context.AfterFunc uses when a context has one, so that registering a function costs no
// goroutine.
func (d *Timer) Context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current()
}

func (g *generation) Deadline() (time.Time, bool) { return time.Time{}, false }
func (g *generation) Done() <-chan struct{}       { return g.done }
func (g *generation) Value(any) any               { return nil }

func (g *generation) Err() error {
	if g.closed() {
		return g.err
	}
	return nil
}

// AfterFunc arranges for f to run once the generation's channel closes; stop cancels that and
// reports whether it did so before f ran. f runs in the goroutine that closes the channel, or
// in a goroutine of its own when the channel is closed already, so that it never runs under
// its caller's locks.
func (g *generation) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	d := g.d
	d.mu.Lock()
	if g.closed() {
		d.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	g.funcs = append(g.funcs, a)
	d.mu.Unlock()
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, b := range g.funcs {
			if b == a {
				g.funcs = append(g.funcs[:i], g.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}
