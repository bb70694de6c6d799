package h2transport_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/wsx-go/wsx"
)

// 1,000 WebSockets multiplexed on one HTTP/2 connection, their messages interleaved by 50
// workers; one stream fails (a message over the server's read limit: 1009) and another is
// reset by its client, and neither disturbs the others.
func TestThousandStreamsOnOneConnection(t *testing.T) {
	const (
		streams  = 1000
		workers  = 50
		messages = 3
		tooBig   = 7   // sends a message over the read limit
		dropped  = 500 // dropped by its client without a closing handshake (RST_STREAM)
	)
	opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: 1 << 10}}
	s := newServer(t, echo(t, opts, nil), true, func(srv *http.Server) {
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 2 * streams}
	})
	tr := s.transport(t)
	conns := make([]*wsx.Conn, streams)
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	jobs := make(chan int)
	run := func(f func(i int) error) {
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					if err := f(i); err != nil {
						errs <- fmt.Errorf("stream %d: %w", i, err)
					}
				}
			})
		}
		for i := range streams {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		jobs = make(chan int)
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
	run(func(i int) (err error) {
		conns[i], _, err = wsx.Dial(ctx(t), s.wsURL(fmt.Sprintf("/%d", i)), &wsx.DialOptions{Transport: tr})
		return err
	})
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d TCP connections for %d WebSockets, want 1", n, streams)
	}
	conns[dropped].CloseNow()
	for round := range messages {
		run(func(i int) error {
			c := conns[i]
			switch {
			case i == dropped:
				return nil
			case i == tooBig && round == 1:
				c.Write(ctx(t), wsx.MessageBinary, make([]byte, 2<<10))
				_, _, err := c.Read(ctx(t))
				if wsx.CloseStatus(err) != wsx.StatusMessageTooBig {
					return fmt.Errorf("read after a message over the limit: %v, want 1009", err)
				}
				return nil
			case i == tooBig && round > 1:
				return nil
			}
			msg := fmt.Appendf(nil, "stream %d round %d", i, round)
			if err := c.Write(ctx(t), wsx.MessageText, msg); err != nil {
				return err
			}
			_, got, err := c.Read(ctx(t))
			if err != nil || !bytes.Equal(got, msg) {
				return fmt.Errorf("echo %q, %v; want %q", got, err, msg)
			}
			return nil
		})
	}
	run(func(i int) error {
		if i == dropped || i == tooBig {
			return nil
		}
		return conns[i].Close(wsx.StatusNormalClosure, "")
	})
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d TCP connections at the end, want 1", n)
	}
}
