package load

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one measured interval produced.
type Result struct {
	Count    int64         // messages echoed, or handshakes completed
	Elapsed  time.Duration // length of the measured interval
	P50, P99 time.Duration // latency from sending a message to receiving its echo
}

// Rate returns Count per second.
func (r Result) Rate() float64 { return float64(r.Count) / r.Elapsed.Seconds() }

// Echo is a request/response load: Conns connections, each keeping InFlight copies of Frame
// outstanding and sending a new one for every echo it receives.
type Echo struct {
	Dialer   *Dialer
	Conns    int
	InFlight int
	Frame    []byte // one complete masked client frame
}

// runState is shared by the connections of one run.
type runState struct {
	count     atomic.Int64
	measuring atomic.Bool
	stopped   atomic.Bool
	errOnce   sync.Once
	err       error
}

func (s *runState) fail(err error) {
	if !s.stopped.Load() {
		s.errOnce.Do(func() { s.err = err })
	}
}

// Run dials every connection, lets the load run for warmup, calls mark, measures for d, calls
// mark again, then closes the connections and returns what was measured between the marks.
// mark is where the caller reads the server's CPU time. Everything ends by itself: a server
// that stops answering fails the run at ctx's deadline.
func (e *Echo) Run(ctx context.Context, warmup, d time.Duration, mark func()) (Result, error) {
	conns, err := dialAll(ctx, e.Dialer, e.Conns, min(e.Conns, 16))
	if err != nil {
		return Result{}, err
	}
	batch := make([]byte, 0, e.InFlight*len(e.Frame))
	for range e.InFlight {
		batch = append(batch, e.Frame...)
	}
	dl, _ := ctx.Deadline()
	return measure(ctx, warmup, d, int64(2*e.Conns*e.InFlight), mark, func(st *runState, h *hist) error {
		return epollEcho(conns, batch, len(e.Frame), e.InFlight, st, h, dl)
	})
}

// measure runs loop on a thread of its own, lets it warm up (for warmup, and until warm
// messages were echoed), calls mark, measures for d (longer if nothing was echoed by then),
// calls mark again, stops it and returns what it echoed between the marks.
func measure(ctx context.Context, warmup, d time.Duration, warm int64, mark func(), loop func(*runState, *hist) error) (Result, error) {
	var st runState
	var h hist
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- loop(&st, &h)
	}()
	time.Sleep(warmup)
	// Warm-up lasts until every connection has had its first messages echoed too: a server's
	// first message on a connection sizes its buffers, which for 16 MiB messages takes
	// longer than the whole warm-up.
	for st.count.Load() < warm && ctx.Err() == nil {
		select {
		case err := <-done:
			done <- err
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	mark()
	start, n0 := time.Now(), st.count.Load()
	st.measuring.Store(true)
	time.Sleep(d)
	// The interval lasts until something was echoed in it too (within ctx): on a machine busy
	// enough to starve the server for all of d, a longer interval is a figure, none is not.
	for st.count.Load() == n0 && ctx.Err() == nil && len(done) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	st.measuring.Store(false)
	n1, elapsed := st.count.Load(), time.Since(start)
	mark()
	st.stopped.Store(true)
	if err := <-done; err != nil {
		st.err = err
	}
	res := Result{Count: n1 - n0, Elapsed: elapsed, P50: h.quantile(0.5), P99: h.quantile(0.99)}
	if st.err != nil {
		return res, st.err
	}
	if res.Count == 0 {
		return res, errors.New("load: no echo during the measured interval")
	}
	return res, nil
}

// dialAll opens n connections with the given number of concurrent dialers.
func dialAll(ctx context.Context, d *Dialer, n, workers int) ([]*Conn, error) {
	conns := make([]*Conn, n)
	err := forEach(n, workers, func(i int) (err error) {
		conns[i], err = d.Dial(ctx, i)
		return err
	})
	if err != nil {
		Close(conns)
		return nil, err
	}
	return conns, nil
}

// forEach runs f(0) to f(n-1) on the given number of goroutines, and stops at the first error,
// which it returns.
func forEach(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// Close resets every connection in conns.
func Close(conns []*Conn) {
	for _, c := range conns {
		if c != nil {
			c.Abort()
		}
	}
}

// Idle opens n connections and echoes one frame on each, so every server has set up whatever
// it keeps for a connection that has carried a message; the connections are then left idle.
func Idle(ctx context.Context, d *Dialer, n, workers int, frame []byte) ([]*Conn, error) {
	conns, err := dialAll(ctx, d, n, workers)
	if err != nil {
		return nil, err
	}
	if err := forEach(n, workers, func(i int) error { return echoOnce(ctx, conns[i], frame) }); err != nil {
		Close(conns)
		return nil, err
	}
	return conns, nil
}

func echoOnce(ctx context.Context, c *Conn, frame []byte) error {
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(frame); err != nil {
		return err
	}
	er := newEchoReader(c, c.leftover, 512)
	c.leftover = nil
	_, err := er.readSome()
	return err
}

// Connect opens connections with workers concurrent dialers, each doing the opening handshake
// and resetting the connection, for warmup then d, calling mark around the measured interval.
// Latency is that of the whole dial and handshake.
func Connect(ctx context.Context, d *Dialer, workers int, warmup, d2 time.Duration, mark func()) (Result, error) {
	var st runState
	hists := make([]hist, workers)
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !st.stopped.Load() {
				t := time.Now()
				c, err := d.Dial(ctx, int(seq.Add(1)))
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() && st.stopped.Load() {
						return
					}
					st.fail(err)
					return
				}
				if st.measuring.Load() {
					hists[w].add(time.Since(t), 1)
				}
				st.count.Add(1)
				c.Abort()
			}
		}()
	}
	time.Sleep(warmup)
	mark()
	start, n0 := time.Now(), st.count.Load()
	st.measuring.Store(true)
	time.Sleep(d2)
	st.measuring.Store(false)
	n1, elapsed := st.count.Load(), time.Since(start)
	mark()
	st.stopped.Store(true)
	wg.Wait()
	var h hist
	for i := range hists {
		h.merge(&hists[i])
	}
	res := Result{Count: n1 - n0, Elapsed: elapsed, P50: h.quantile(0.5), P99: h.quantile(0.99)}
	if st.err != nil {
		return res, st.err
	}
	return res, nil
}
