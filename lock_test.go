package wsx

import (
	"context"
	"sync"
	"testing"
	"time"
)

// waitLock excludes, and its waiters, whichever way they wait, all get it in the end: many
// goroutines taking it at once, with waiters marking it waited on a channel another unlock is
// closing (a race that once closed a nil channel).
func TestWaitLock(t *testing.T) {
	var l waitLock
	var inside, total int
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				var err error
				if (g+i)%2 == 0 {
					err = l.lock(context.Background())
				} else {
					err = l.lockUntil(time.Now().Add(time.Minute), nil)
				}
				if err != nil {
					t.Error(err)
					return
				}
				inside++
				if inside != 1 {
					t.Error("two holders at once")
				}
				total++
				inside--
				l.unlock()
			}
		}()
	}
	wg.Wait()
	if total != 8*2000 {
		t.Fatalf("%d of %d locks", total, 8*2000)
	}

	// A waiter gives up on its context.
	l.lock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.lock(ctx); err != context.DeadlineExceeded {
		t.Fatalf("lock of a held lock = %v, want the context's error", err)
	}
	if err := l.lockUntil(time.Now().Add(10*time.Millisecond), nil); err == nil {
		t.Fatal("lockUntil of a held lock succeeded")
	}
	l.unlock()
	if !l.tryLock() {
		t.Fatal("the lock is not free after its waiters gave up")
	}
}
