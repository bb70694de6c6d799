package wsx

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The locks and signals of a Conn allocate nothing until somebody has to wait: an idle
// connection holds none of the channels a select needs (see bench/ for what a connection costs).
// Nor do they hold a mutex each: the channels are made and closed under one of a table of
// mutexes shared by all (stripe), as waiting is rare and brief, and a connection holds three
// locks and a signal or two.

// stripes are the mutexes that guard the channels of waitLocks and signals, chosen by address.
var stripes [64]struct {
	sync.Mutex
	_ [56]byte // one to a cache line
}

// stripe returns the mutex for the lock or signal at p.
func stripe(p unsafe.Pointer) *sync.Mutex {
	return &stripes[uintptr(p)>>4%uintptr(len(stripes))].Mutex
}

// waitLock is a mutual exclusion lock whose waiters can give up (on a context, a deadline, a
// channel) or wait for it among other things in a select: released gives the channel to wait on.
type waitLock struct {
	state atomic.Int32  // lockFree, lockHeld, or lockWaited: held, and someone waits on freed
	freed chan struct{} // under the lock's stripe
}

const (
	lockFree int32 = iota
	lockHeld
	lockWaited
)

// tryLock takes the lock if it is free.
func (l *waitLock) tryLock() bool { return l.state.CompareAndSwap(lockFree, lockHeld) }

// released returns a channel that is closed once the lock has been released; the waiter then
// tries again.
func (l *waitLock) released() <-chan struct{} {
	mu := stripe(unsafe.Pointer(l))
	mu.Lock()
	defer mu.Unlock()
	for {
		s := l.state.Load()
		if s == lockFree {
			return closedChan
		}
		if s == lockWaited || l.state.CompareAndSwap(lockHeld, lockWaited) {
			break
		}
	}
	if l.freed == nil {
		l.freed = make(chan struct{})
	}
	return l.freed
}

func (l *waitLock) unlock() {
	if l.state.Swap(lockFree) == lockWaited {
		mu := stripe(unsafe.Pointer(l))
		mu.Lock()
		// A waiter may have marked the lock waited on a channel a previous unlock has just
		// closed (and woken it with): then there is none to close.
		if l.freed != nil {
			close(l.freed)
			l.freed = nil
		}
		mu.Unlock()
	}
}

// lock takes the lock, giving up when ctx is done.
func (l *waitLock) lock(ctx context.Context) error {
	for !l.tryLock() {
		select {
		case <-l.released():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// lockUntil takes the lock, giving up at deadline (if not zero) or when done is closed.
func (l *waitLock) lockUntil(deadline time.Time, done <-chan struct{}) error {
	if l.tryLock() {
		return nil
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	for !l.tryLock() {
		select {
		case <-l.released():
		case <-expired:
			return errors.New("wsx: timed out waiting to write a control frame")
		case <-done:
			return context.Canceled
		}
	}
	return nil
}

// signal is a one-time event with a channel to wait for it, made only when somebody waits.
type signal struct {
	fired bool // under the signal's stripe, as is ch
	ch    chan struct{}
}

// fire marks the event as happened, once.
func (s *signal) fire() {
	mu := stripe(unsafe.Pointer(s))
	mu.Lock()
	if !s.fired {
		s.fired = true
		if s.ch != nil {
			close(s.ch)
		}
	}
	mu.Unlock()
}

// wait returns a channel closed once the event has happened.
func (s *signal) wait() <-chan struct{} {
	mu := stripe(unsafe.Pointer(s))
	mu.Lock()
	defer mu.Unlock()
	if s.fired {
		return closedChan
	}
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
