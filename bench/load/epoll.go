package load

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// The echo load runs all its connections from one thread over epoll(7), on raw non-blocking
// sockets taken away from Go's netpoller: a message then costs the generator one read and
// one write system call and a share of an epoll_wait, with no goroutine switch, so the
// generator's core can keep the server's busy.

// pconn is one connection of the epoll loop.
type pconn struct {
	fd   int
	er   *echoReader
	sent []time.Time // send times of the outstanding messages, oldest at head
	head int
	owe  int  // bytes of frames still to write
	out  bool // EPOLLOUT is armed
}

// detach takes the socket of c away from Go's runtime and returns it as a non-blocking file
// descriptor the caller owns.
func detach(c *Conn) (int, error) {
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return -1, errors.New("load: not a TCP connection")
	}
	tc.SetLinger(0) // closing the descriptor later resets the connection: no TIME_WAIT
	f, err := tc.File()
	if err != nil {
		return -1, err
	}
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	tc.Close() // deregisters the socket from the netpoller; fd keeps it open
	if err != nil {
		return -1, err
	}
	return fd, syscall.SetNonblock(fd, true)
}

// epollSet is an epoll set over connections taken from Go's runtime (detach), event i
// standing for pcs[i].
type epollSet struct {
	ep     int
	pcs    []*pconn
	events []syscall.EpollEvent
}

// newEpollSet detaches every connection and registers it for input, with the pconn that
// mk makes of its descriptor.
func newEpollSet(conns []*Conn, mk func(fd int, c *Conn) *pconn) (*epollSet, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	s := &epollSet{ep: ep, pcs: make([]*pconn, 0, len(conns)), events: make([]syscall.EpollEvent, 256)}
	for i, c := range conns {
		fd, err := detach(c)
		if err != nil {
			s.close()
			return nil, err
		}
		s.pcs = append(s.pcs, mk(fd, c))
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *epollSet) close() {
	for _, c := range s.pcs {
		syscall.Close(c.fd)
	}
	syscall.Close(s.ep)
}

// wait returns the events that are ready, within 20 ms, and the time; a run past deadline
// fails: the server stopped answering.
func (s *epollSet) wait(deadline time.Time) ([]syscall.EpollEvent, time.Time, error) {
	for {
		n, err := syscall.EpollWait(s.ep, s.events, 20)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		now := time.Now()
		if now.After(deadline) {
			return nil, now, errors.New("load: server stopped answering")
		}
		return s.events[:n], now, nil
	}
}

// epollEcho runs the echo load on conns until st.stopped, or until deadline.
func epollEcho(conns []*Conn, batch []byte, frameLen, inFlight int, st *runState, h *hist, deadline time.Time) error {
	now := time.Now()
	set, err := newEpollSet(conns, func(fd int, c *Conn) *pconn {
		pc := &pconn{fd: fd, er: newEchoReader(nil, c.leftover, min(64<<10, max(4096, len(batch)))),
			sent: make([]time.Time, inFlight), owe: inFlight * frameLen}
		for j := range pc.sent {
			pc.sent[j] = now
		}
		return pc
	})
	if err != nil {
		return err
	}
	defer set.close()
	ep, pcs := set.ep, set.pcs
	for i, pc := range pcs {
		if err := pc.flush(ep, i, batch, frameLen); err != nil {
			return err
		}
	}
	return set.loop(st, deadline, batch, frameLen, func(_ int, pc *pconn, k int, now time.Time, measuring bool) error {
		if k > inFlight || pc.owe+k*frameLen > inFlight*frameLen {
			return errors.New("load: more echoes than messages sent")
		}
		for range k {
			if measuring {
				h.add(now.Sub(pc.sent[pc.head]), 1)
			}
			pc.sent[pc.head] = now // the replacement, written below
			pc.head = (pc.head + 1) % inFlight
		}
		pc.owe += k * frameLen
		st.count.Add(int64(k))
		return nil
	})
}

// loop runs the set until st.stopped, or until deadline: a connection with input is read,
// echoed is told of the k > 0 messages connection i completed (and may owe the socket more), and what
// a connection owes is written, frames out of batch.
func (s *epollSet) loop(st *runState, deadline time.Time, batch []byte, frameLen int, echoed func(i int, pc *pconn, k int, now time.Time, measuring bool) error) error {
	for !st.stopped.Load() {
		events, now, err := s.wait(deadline)
		if err != nil {
			return err
		}
		measuring := st.measuring.Load()
		for _, ev := range events {
			i := int(ev.Fd)
			pc := s.pcs[i]
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
				k, err := pc.read()
				if k > 0 {
					if err := echoed(i, pc, k, now, measuring); err != nil {
						return err
					}
				}
				if err != nil {
					return err
				}
			}
			if pc.owe > 0 {
				if err := pc.flush(s.ep, i, batch, frameLen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// read reads what the socket has and returns how many messages it completed.
func (pc *pconn) read() (int, error) {
	e := pc.er
	k, err := e.parse() // bytes left over from the handshake, or a partial frame
	if err != nil || k > 0 {
		return k, err
	}
	e.compact()
	n, err := syscall.Read(pc.fd, e.buf[e.w:])
	switch {
	case err == syscall.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.ErrUnexpectedEOF
	}
	e.w += n
	return e.parse()
}

// flush writes as much as the socket takes of what pc owes and arms EPOLLOUT for the rest.
// The owed bytes are always the tail of a run of whole frames, so they are a slice of batch.
func (pc *pconn) flush(ep, i int, batch []byte, frameLen int) error {
	for pc.owe > 0 {
		off := (frameLen - pc.owe%frameLen) % frameLen
		n, err := syscall.Write(pc.fd, batch[off:off+pc.owe])
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return fmt.Errorf("load: write: %w", err)
		}
		pc.owe -= n
	}
	if want := pc.owe > 0; want != pc.out {
		pc.out = want
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if want {
			ev.Events |= syscall.EPOLLOUT
		}
		return syscall.EpollCtl(ep, syscall.EPOLL_CTL_MOD, pc.fd, &ev)
	}
	return nil
}
