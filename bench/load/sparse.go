package load

import (
	"context"
	"errors"
	"time"
)

// KindSparse is an echo load over many connections, each sending now and then (Sparse).
const KindSparse = KindConnect + 1

func init() {
	Scenarios = append(Scenarios, Scenario{Name: "sparse10k", Desc: "10,000 conns, each sending 16 B now and then, 100 in flight",
		Kind: KindSparse, Conns: 10000, InFlight: 100, Size: 16})
}

// Sparse is an echo load over many connections that each send now and then, as the clients
// of a chat or notification server do: InFlight messages are outstanding at any time, each on
// a connection of its own, and every echo sends the next message on the next connection in
// turn. Every connection carries traffic, one message at a time, and goes idle between its
// messages, so a server cannot keep its state hot in a few connections.
type Sparse struct {
	Dialer   *Dialer
	Conns    int
	InFlight int
	Frame    []byte // one complete masked client frame
}

// Run dials the connections and measures as Echo.Run does.
func (e *Sparse) Run(ctx context.Context, warmup, d time.Duration, mark func()) (Result, error) {
	if e.InFlight > e.Conns {
		return Result{}, errors.New("load: more messages in flight than connections")
	}
	conns, err := dialAll(ctx, e.Dialer, e.Conns, 16)
	if err != nil {
		return Result{}, err
	}
	dl, _ := ctx.Deadline()
	return measure(ctx, warmup, d, int64(2*e.Conns), mark, func(st *runState, h *hist) error {
		return epollSparse(conns, e.Frame, e.InFlight, st, h, dl)
	})
}

// epollSparse runs the sparse load on conns until st.stopped, or until deadline.
func epollSparse(conns []*Conn, frame []byte, inFlight int, st *runState, h *hist, deadline time.Time) error {
	set, err := newEpollSet(conns, func(fd int, c *Conn) *pconn {
		return &pconn{fd: fd, er: newEchoReader(nil, c.leftover, 4096), sent: make([]time.Time, 1)}
	})
	if err != nil {
		return err
	}
	defer set.close()
	ep, pcs := set.ep, set.pcs
	waiting := make([]bool, len(pcs)) // a message of the connection is in flight
	next := 0
	send := func(now time.Time) error {
		for waiting[next] { // the connection's last message is not back yet: the one after
			next = (next + 1) % len(pcs)
		}
		i := next
		next = (next + 1) % len(pcs)
		pc := pcs[i]
		waiting[i], pc.sent[0], pc.owe = true, now, len(frame)
		return pc.flush(ep, i, frame, len(frame))
	}
	now := time.Now()
	for range inFlight {
		if err := send(now); err != nil {
			return err
		}
	}
	return set.loop(st, deadline, frame, len(frame), func(i int, pc *pconn, k int, now time.Time, measuring bool) error {
		if k > 1 || !waiting[i] {
			return errors.New("load: more echoes than messages sent")
		}
		if measuring {
			h.add(now.Sub(pc.sent[0]), 1)
		}
		waiting[i] = false
		st.count.Add(1)
		return send(now)
	})
}
