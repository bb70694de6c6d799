package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// The fan-out load: one publisher connection and many subscribers. A fan-out server sends
// every message the publisher sends to every subscriber, and tells the two apart by the
// subprotocol: the publisher asks for PublisherProtocol. A subscriber's first message, once the
// server has subscribed it, is an acknowledgement; after it the n-th message a subscriber
// receives is the publisher's n-th (a server delivers every message to every subscriber, in
// order), so the generator never needs to look into a payload, compressed or not.

// KindFanout is a broadcast load: one publisher, Conns subscribers (Fanout); its figure is
// server CPU per delivered message.
const KindFanout = KindSparse + 1

// PublisherProtocol is the subprotocol by which the publisher's connection is known.
const PublisherProtocol = "publisher"

// Fanout is a broadcast load with a bounded backlog: the publisher sends messages in bursts
// of Burst (a tick of updates; 1 for a steady stream) and keeps at most Window outstanding,
// sending the next burst as soon as the oldest one has reached every subscriber.
type Fanout struct {
	Dialer      *Dialer // for the subscribers
	Subscribers int
	Window      int // a multiple of Burst
	Burst       int
	Frame       []byte // the publisher's masked frame
}

// publisherDialer returns a Dialer for the publisher: no compression offer (it may send
// plain frames; the server compresses for the subscribers) and PublisherProtocol.
func (d *Dialer) publisherDialer() *Dialer {
	p := NewDialer(d.addr, 0, false)
	p.req = bytes.Replace(p.req, []byte("\r\n\r\n"), []byte("\r\nSec-WebSocket-Protocol: "+PublisherProtocol+"\r\n\r\n"), 1)
	return p
}

// Run dials the subscribers and waits for their acknowledgements, dials the publisher, lets
// the load run for warmup, calls mark, measures for d, calls mark again and closes
// everything. Count in the result is messages delivered (to one subscriber each); latency is
// from the publisher's write to a subscriber's read.
func (f *Fanout) Run(ctx context.Context, warmup, d time.Duration, mark func()) (Result, error) {
	subs, readers, err := Subscribe(ctx, f.Dialer, f.Subscribers, 16)
	if err != nil {
		return Result{}, err
	}
	pub, err := f.Dialer.publisherDialer().Dial(ctx, 0)
	if err != nil {
		Close(subs)
		return Result{}, err
	}
	dl, _ := ctx.Deadline()
	// Warm-up lasts until every subscriber has received two windows: 3 windows delivered to
	// every subscriber on average means the publisher sent 3 windows, so the oldest two
	// reached everyone, and whatever a server sets up on a connection's first writes is done.
	warm := int64(3 * f.Window * f.Subscribers)
	return measure(ctx, warmup, d, warm, mark, func(st *runState, h *hist) error {
		return f.epoll(pub, subs, readers, st, h, dl)
	})
}

// Subscribe opens n subscriber connections with the given number of concurrent dialers and
// waits for each one's acknowledgement. It returns the connections and their readers, which
// hold whatever arrived after the acknowledgement.
func Subscribe(ctx context.Context, d *Dialer, n, workers int) ([]*Conn, []*echoReader, error) {
	conns, err := dialAll(ctx, d, n, workers)
	if err != nil {
		return nil, nil, err
	}
	readers := make([]*echoReader, n)
	dl, _ := ctx.Deadline()
	err = forEach(n, workers, func(i int) error {
		c := conns[i]
		c.SetDeadline(dl)
		er := newEchoReader(c, c.leftover, 8192)
		c.leftover = nil
		k, err := er.readSome()
		c.SetDeadline(time.Time{})
		if err == nil && k != 1 {
			err = fmt.Errorf("%d messages before the publisher started", k-1)
		}
		if err != nil {
			return fmt.Errorf("load: subscriber %d: %w", i, err)
		}
		readers[i] = er
		return nil
	})
	if err != nil {
		Close(conns)
		return nil, nil, err
	}
	return conns, readers, nil
}

// fanState is the publisher's side of the epoll loop.
type fanState struct {
	window    int
	sentAt    []time.Time // by seq % window
	remaining []int       // subscribers yet to receive, by seq % window
	next      int         // seq of the next message to send
	oldest    int         // seq of the oldest message not yet everywhere
}

// epoll runs the load from one thread until st.stopped or deadline.
func (f *Fanout) epoll(pub *Conn, subs []*Conn, readers []*echoReader, st *runState, h *hist, deadline time.Time) error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	pcs := make([]*pconn, 0, len(subs)+1)
	defer func() {
		for _, c := range pcs {
			syscall.Close(c.fd)
		}
	}()
	all := append(append(make([]*Conn, 0, len(subs)+1), subs...), pub)
	for i, c := range all {
		fd, err := detach(c)
		if err != nil {
			return err
		}
		er := newEchoReader(nil, nil, 0)
		if i < len(readers) {
			er = readers[i]
		} else {
			er.w = copy(er.buf, c.leftover)
		}
		pcs = append(pcs, &pconn{fd: fd, er: er})
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
	pi := len(pcs) - 1 // the publisher
	fs := fanState{window: f.Window, sentAt: make([]time.Time, f.Window), remaining: make([]int, f.Window)}
	batch := bytes.Repeat(f.Frame, f.Window)
	got := make([]int, len(subs)) // messages each subscriber has received
	send := func(now time.Time) error {
		for fs.next+f.Burst <= fs.oldest+fs.window && !st.stopped.Load() {
			for range f.Burst {
				fs.sentAt[fs.next%fs.window] = now
				fs.remaining[fs.next%fs.window] = len(subs)
				fs.next++
				pcs[pi].owe += len(f.Frame)
			}
		}
		return pcs[pi].flush(ep, pi, batch, len(f.Frame))
	}
	if err := send(time.Now()); err != nil {
		return err
	}
	events := make([]syscall.EpollEvent, 256)
	progress := time.Now()
	for !st.stopped.Load() {
		n, err := syscall.EpollWait(ep, events, 20)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		now := time.Now()
		if now.Sub(progress) > 10*time.Second || now.After(deadline) {
			return errors.New("load: fan-out stalled: nothing delivered for 10 s")
		}
		measuring := st.measuring.Load()
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			pc := pcs[i]
			if i == pi {
				if ev.Events&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
					return errors.New("load: the publisher's connection failed")
				}
				if ev.Events&syscall.EPOLLIN != 0 {
					var b [512]byte
					switch k, _ := syscall.Read(pc.fd, b[:]); {
					case k == 0:
						return errors.New("load: the server closed the publisher's connection")
					case k > 0:
						return fmt.Errorf("load: the server wrote %d bytes to the publisher", k)
					}
				}
				if err := pc.flush(ep, pi, batch, len(f.Frame)); err != nil {
					return err
				}
				continue
			}
			k, err := pc.read()
			if err == io.ErrUnexpectedEOF || err == ErrClosed {
				return fmt.Errorf("load: subscriber %d was closed after %d messages", i, got[i])
			}
			if err != nil {
				return err
			}
			for range k {
				seq := got[i]
				if seq >= fs.next {
					return fmt.Errorf("load: subscriber %d got more messages than were sent", i)
				}
				if measuring {
					h.add(now.Sub(fs.sentAt[seq%fs.window]), 1)
				}
				got[i]++
				fs.remaining[seq%fs.window]--
			}
			if k > 0 {
				st.count.Add(int64(k))
				progress = now
			}
		}
		completed := false
		for fs.oldest < fs.next && fs.remaining[fs.oldest%fs.window] == 0 {
			fs.oldest++
			completed = true
		}
		if completed {
			if err := send(now); err != nil {
				return err
			}
		}
	}
	return nil
}

// PublisherFrame returns the frame the publisher of a fan-out scenario sends: the payload,
// uncompressed (the server compresses for the subscribers that asked for it).
func (s Scenario) PublisherFrame() []byte {
	return Frame(s.opcode(), s.Payload(), false)
}

// VerifyFanout checks that the fan-out server d dials delivers the scenario's message intact
// to two subscribers, with its type, compressed when the scenario uses permessage-deflate and
// the message is at least minCompressed bytes.
func VerifyFanout(ctx context.Context, d *Dialer, s Scenario, minCompressed int) error {
	subs, readers, err := Subscribe(ctx, d, 2, 2)
	if err != nil {
		return err
	}
	defer Close(subs)
	pub, err := d.publisherDialer().Dial(ctx, 0)
	if err != nil {
		return err
	}
	defer pub.Abort()
	if _, err := pub.Write(s.PublisherFrame()); err != nil {
		return err
	}
	want := s.Payload()
	wantOp := s.opcode()
	dl, _ := ctx.Deadline()
	for i, er := range readers {
		subs[i].SetDeadline(dl)
		er.keep = true
		if k, err := er.readSome(); err != nil || k != 1 {
			return fmt.Errorf("subscriber %d: %d messages, %v", i, k, err)
		}
		p, err := er.lastPayload(s.Deflate)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		if s.Deflate && !er.lastR1 && len(want) >= minCompressed {
			return errors.New("message not compressed")
		}
		if er.lastOp != wantOp || !bytes.Equal(p, want) {
			return fmt.Errorf("subscriber %d got opcode %#x, %d bytes; want %#x, %d bytes", i, er.lastOp, len(p), wantOp, len(want))
		}
	}
	return nil
}
