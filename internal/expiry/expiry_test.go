package expiry

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/wsx-go/wsx/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestZeroValueHasNoDeadline(t *testing.T) {
	var d Timer
	if closed(d.Done()) || d.Err() != nil {
		t.Fatalf("zero Timer: done=%v err=%v, want open and nil", closed(d.Done()), d.Err())
	}
	d.Set(time.Time{})
	if closed(d.Done()) || d.Err() != nil {
		t.Fatal("Set(zero) expired the deadline")
	}
}

func TestPastDeadlineExpiresAtOnce(t *testing.T) {
	var d Timer
	done := d.Done()
	d.Set(time.Unix(1, 0))
	if !closed(done) {
		t.Fatal("a deadline in the past left the channel open")
	}
	if err := d.Err(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Err = %v, want os.ErrDeadlineExceeded", err)
	}
	// Another past deadline keeps the closed channel: calls keep failing at once.
	d.Set(time.Now().Add(-time.Second))
	if !closed(d.Done()) {
		t.Fatal("a second past deadline opened a new channel")
	}
}

func TestFutureDeadlineExpires(t *testing.T) {
	var d Timer
	d.Set(time.Now().Add(20 * time.Millisecond))
	done := d.Done()
	if closed(done) {
		t.Fatal("closed before the deadline")
	}
	<-done // the test would hang (and time out) if the timer never fired
	if !errors.Is(d.Err(), os.ErrDeadlineExceeded) {
		t.Fatalf("Err = %v after expiry", d.Err())
	}
}

// A waiter on the channel keeps waiting when the deadline moves later, and wakes when it moves
// earlier, as net.Conn's contract asks of a blocked call.
func TestMoveWhileWaiting(t *testing.T) {
	var d Timer
	d.Set(time.Now().Add(10 * time.Millisecond))
	done := d.Done()
	d.Set(time.Now().Add(time.Hour)) // later, before the first deadline passes
	if d.Done() != done {
		t.Fatal("moving the deadline later replaced the channel a call may be blocked on")
	}
	time.Sleep(30 * time.Millisecond) // past the first deadline
	if closed(done) {
		t.Fatal("the first deadline fired after it was moved later")
	}
	d.Set(time.Now().Add(5 * time.Millisecond)) // earlier again
	<-done
	d.Set(time.Time{}) // cleared after expiry: a new, open channel
	if closed(d.Done()) || d.Err() != nil {
		t.Fatal("clearing an expired deadline left calls failing")
	}
}

func TestSetAfterExpiryStartsNewChannel(t *testing.T) {
	var d Timer
	d.Set(time.Unix(1, 0))
	old := d.Done()
	d.Set(time.Now().Add(time.Hour))
	if !closed(old) {
		t.Fatal("the expired channel reopened")
	}
	if closed(d.Done()) || d.Err() != nil {
		t.Fatal("a future deadline after an expired one did not reopen the way for calls")
	}
	d.Set(time.Time{})
}

func TestClose(t *testing.T) {
	var d Timer
	d.Set(time.Now().Add(time.Hour))
	done := d.Done()
	errStop := errors.New("stopped")
	d.Close(errStop)
	if !closed(done) || d.Err() != errStop {
		t.Fatalf("after Close: done=%v err=%v", closed(done), d.Err())
	}
	d.Set(time.Now().Add(time.Hour))
	d.Close(errors.New("again"))
	if !closed(d.Done()) || d.Err() != errStop {
		t.Fatal("Set or a second Close undid Close")
	}
	// Close after expiry replaces the timeout with the close error.
	var e Timer
	e.Set(time.Unix(1, 0))
	e.Close(errStop)
	if e.Err() != errStop {
		t.Fatalf("Err = %v, want the close error", e.Err())
	}
}

// context.AfterFunc runs its function when the deadline passes, through the generation's own
// AfterFunc method; one registered after expiry runs at once; stop before expiry keeps it from
// running.
func TestContextAfterFunc(t *testing.T) {
	var d Timer
	ctx := d.Context()
	if _, ok := ctx.(interface{ AfterFunc(func()) func() bool }); !ok {
		t.Fatal("the context has no AfterFunc method: context.AfterFunc would start a goroutine")
	}
	ran := make(chan int, 3)
	context.AfterFunc(ctx, func() { ran <- 1 })
	stopped := context.AfterFunc(ctx, func() { ran <- 2 })
	if !stopped() {
		t.Fatal("stop before expiry reported false")
	}
	d.Set(time.Now().Add(10 * time.Millisecond))
	if got := <-ran; got != 1 {
		t.Fatalf("ran %d", got)
	}
	stop := context.AfterFunc(ctx, func() { ran <- 3 })
	if got := <-ran; got != 3 {
		t.Fatalf("ran %d", got)
	}
	if stop() {
		t.Fatal("stop after the function ran reported true")
	}
	// A derived context is cancelled with the deadline's error.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	<-child.Done()
	if !errors.Is(child.Err(), os.ErrDeadlineExceeded) {
		t.Fatalf("derived context: %v", child.Err())
	}
	if len(ran) != 0 {
		t.Fatal("a stopped function ran")
	}
}

// A context, once done, stays done with the same error, as context.Context requires, even
// when the Timer is set again: the new deadline is a new context.
func TestContextGenerations(t *testing.T) {
	var d Timer
	first := d.Context()
	d.Set(time.Unix(1, 0))
	if !closed(first.Done()) || first.Err() != os.ErrDeadlineExceeded {
		t.Fatal("the first context did not end with the deadline")
	}
	d.Set(time.Now().Add(time.Hour))
	second := d.Context()
	if second == first || closed(second.Done()) || second.Err() != nil {
		t.Fatal("a new deadline did not start a new, open context")
	}
	if first.Err() != os.ErrDeadlineExceeded {
		t.Fatal("the first context's error changed")
	}
	if _, ok := second.Deadline(); ok || second.Value("k") != nil {
		t.Fatal("the context reports a deadline or values")
	}
	errStop := errors.New("stopped")
	d.Close(errStop)
	if second.Err() != errStop || d.Context().Err() != errStop {
		t.Fatal("Close did not end the current context with its error")
	}
}
