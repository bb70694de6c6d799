package wsx

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DEFECT: waitLock.unlock closes a nil channel, a panic that ends the process, when three or
// more goroutines contend for the lock: holder A's unlock marks the lock free and then waits
// for mu; B takes the lock, and waiter C (under mu) finds it held and waited, and is given the
// channel A is about to close; A closes it and sets freed to nil; when B unlocks it finds the
// lock waited and closes l.freed, which is nil. Every lock of a Conn is a waitLock: concurrent
// Writes (documented as safe) crash the program. The test plays the three goroutines, holding
// mu to make A wait where it can be overtaken.
func TestDefectWaitLockContention(t *testing.T) {
	for range 200 {
		if p := overtakeUnlock(); p != nil {
			t.Fatalf("waitLock: a holder unlocking after an overtaken unlock: panic: %v", p)
		}
	}
}

// overtakeUnlock plays the interleaving of TestDefectWaitLockContention once and returns what
// the last unlock panicked with.
func overtakeUnlock() (panicked any) {
	var l waitLock
	l.tryLock()      // A holds the lock
	_ = l.released() // a waiter: the lock is marked waited
	l.mu.Lock()      // A's unlock will stop at mu
	unlocked := make(chan struct{})
	go func() { l.unlock(); close(unlocked) }()
	for !l.tryLock() { // B takes the lock once A's unlock has freed it
		runtime.Gosched()
	}
	l.mu.Unlock()
	_ = l.released() // C waits, likely before A's unlock gets mu
	<-unlocked
	defer func() {
		if panicked = recover(); panicked != nil {
			l.mu.Unlock()
		}
	}()
	l.unlock() // B
	return nil
}

// The same defect through the API: goroutines writing to one connection at once. Under -race
// it panics in most runs (without, now and then); TestAttackConcurrentMisuse met it too.
func TestDefectConcurrentWritesPanic(t *testing.T) {
	server, client := connPair(t, ConnOptions{})
	go func() {
		for {
			if _, _, err := client.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	panics := make(chan string, 32)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				// unlock panicked holding its waitLock's mu: release it, or every other
				// writer waits for it forever.
				stack := string(debug.Stack())
				switch {
				case strings.Contains(stack, "endMessage"):
					server.w.msgLock.mu.Unlock()
				case strings.Contains(stack, "writeData"):
					server.w.frameLock.mu.Unlock()
				}
				stop.Store(true)
				panics <- fmt.Sprint(p)
			}()
			for i := 0; i < 2000 && !stop.Load(); i++ {
				if err := server.Write(context.Background(), MessageText, []byte("concurrent")); err != nil {
					panics <- fmt.Sprintf("writer %d, write %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("concurrent writers do not finish")
	}
	server.CloseNow()
	close(panics)
	for p := range panics {
		t.Errorf("concurrent Writes: %v", p)
		break
	}
}
