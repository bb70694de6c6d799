//go:build !js

package hub

import (
	"context"
	"sync"
	"time"

	"github.com/wsx-go/wsx"
)

// member is one subscribed connection: its topics, and its queue of messages to write.
type member struct {
	hub  *Hub
	conn *wsx.Conn
	subs []sub // under Hub.mu

	mu      sync.Mutex
	state   state
	writing bool     // a goroutine runs run; it alone uses the fields after bufs
	bufs    *buffers // nil while nothing is pending
	queued  int      // cost of bufs.queue[bufs.head:]
	sending int      // cost of the write in progress

	runFn  func()          // m.run, bound once: a go statement with a method value would allocate
	ctx    context.Context // cancelled when a write takes longer than WriteTimeout
	cancel context.CancelFunc
	timer  *time.Timer
}

// sub is a member's place in one topic: t.members[index] is the member.
type sub struct {
	t     *topic
	index int
}

type state int

const (
	alive     state = iota
	leaving         // Leave: stop after the write in progress
	slow            // past MaxPending with CloseSlow: close with 1008
	goingAway       // Shutdown: write what is queued, then close with 1001
	failed          // a write failed: drop the connection
)

// entry is a queued message and its cost against MaxPending.
type entry struct {
	m    *wsx.PreparedMessage
	cost int
}

// buffers hold a member's pending output: pooled, so that an idle member holds none.
type buffers struct {
	queue []entry
	head  int                    // queue[:head] has been dropped (DropOldest)
	batch []*wsx.PreparedMessage // what run is writing
}

var bufferPool = sync.Pool{New: func() any { return new(buffers) }}

const (
	// perMessage is what a queued message costs besides its payload.
	perMessage = 32
	// maxBatch is the most messages given to one WritePrepared: enough to make a burst one
	// system call, few enough that the iovec array the poller keeps per socket stays small.
	maxBatch = 64
)

func (m *member) in(t *topic) bool { return m.find(t) >= 0 }

// find returns the index in m.subs of m's place in t, or -1; the caller holds Hub.mu.
func (m *member) find(t *topic) int {
	for i, s := range m.subs {
		if s.t == t {
			return i
		}
	}
	return -1
}

// enqueue queues run, messages posted in that order, and starts a writer if none is running.
// It never blocks on the connection.
func (m *member) enqueue(run []outgoing) {
	h := m.hub
	m.mu.Lock()
	if m.state != alive {
		m.mu.Unlock()
		return
	}
	for _, o := range run {
		cost := o.size + perMessage
		if pending := m.queued + m.sending; pending > 0 && pending+cost > h.maxPending {
			if h.overflow != DropOldest {
				m.state = slow
				m.dropQueue()
				break
			}
			q := m.bufs
			for q.head < len(q.queue) && m.queued+m.sending+cost > h.maxPending {
				m.queued -= q.queue[q.head].cost
				q.queue[q.head] = entry{}
				q.head++
			}
			if m.queued+m.sending > 0 && m.queued+m.sending+cost > h.maxPending {
				continue // the write in progress alone leaves no room: drop this message
			}
		}
		if m.bufs == nil {
			m.bufs = bufferPool.Get().(*buffers)
		}
		q := m.bufs
		if q.head > 0 && len(q.queue) == cap(q.queue) {
			n := copy(q.queue, q.queue[q.head:])
			clear(q.queue[n:])
			q.queue, q.head = q.queue[:n], 0
		}
		q.queue = append(q.queue, entry{o.m, cost})
		m.queued += cost
	}
	m.startLocked()
}

// startLocked starts a writer unless one runs, and unlocks m.mu.
func (m *member) startLocked() {
	start := !m.writing
	m.writing = true
	m.mu.Unlock()
	if start {
		m.hub.writers.Add(1)
		if m.runFn == nil {
			m.runFn = m.run
		}
		go m.runFn()
	}
}

// dropQueue forgets the queued messages; the caller holds m.mu.
func (m *member) dropQueue() {
	if q := m.bufs; q != nil {
		clear(q.queue)
		q.queue, q.head = q.queue[:0], 0
	}
	m.queued = 0
}

// leave stops m after the write in progress; Leave has removed it from the Hub.
func (m *member) leave() {
	m.mu.Lock()
	if m.state == alive || m.state == goingAway {
		m.state = leaving
		m.dropQueue()
	}
	m.mu.Unlock()
}

// alive reports whether m still takes messages.
func (m *member) alive() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == alive
}

// goAway makes m write what is queued and then close with 1001.
func (m *member) goAway() {
	m.mu.Lock()
	if m.state != alive {
		m.mu.Unlock()
		return
	}
	m.state = goingAway
	m.startLocked()
}

// run writes m's queue, coalesced, until it is empty, and then ends: an idle member has no
// goroutine. It also carries out a slow or departing member's close.
func (m *member) run() {
	defer m.hub.writers.Done()
	for {
		m.mu.Lock()
		q := m.bufs
		if q == nil || q.head == len(q.queue) || m.state == leaving || m.state == slow {
			m.finish()
			return
		}
		for _, e := range q.queue[q.head:] {
			q.batch = append(q.batch, e.m)
		}
		clear(q.queue)
		q.queue, q.head = q.queue[:0], 0
		m.sending, m.queued = m.queued, 0
		m.mu.Unlock()

		err := m.write(q.batch)
		clear(q.batch)
		q.batch = q.batch[:0]
		m.mu.Lock()
		m.sending = 0
		m.mu.Unlock()
		if err != nil {
			// The peer is gone, or did not take a write within WriteTimeout: the connection
			// cannot go on (wsx has closed it, or will on the next write).
			m.mu.Lock()
			m.state = failed
			m.finish()
			return
		}
	}
}

// write writes batch, maxBatch messages at a time, each write bounded by WriteTimeout.
func (m *member) write(batch []*wsx.PreparedMessage) error {
	if m.ctx == nil {
		m.ctx, m.cancel = context.WithCancel(context.Background())
		m.timer = time.AfterFunc(time.Hour, m.cancel)
	}
	for len(batch) > 0 {
		n := min(len(batch), maxBatch)
		m.timer.Reset(m.hub.writeTimeout)
		err := m.conn.WritePrepared(m.ctx, batch[:n]...)
		m.timer.Stop()
		if err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// finish ends run with m.mu held. An idle member gives its buffers back, and a writer may
// start again; one that is done leaves the Hub and, unless it left by itself, is closed.
func (m *member) finish() {
	st := m.state
	if m.bufs != nil {
		m.dropQueue()
		bufferPool.Put(m.bufs)
		m.bufs = nil
	}
	if st == alive {
		m.writing = false
		m.mu.Unlock()
		return
	}
	m.mu.Unlock() // writing stays set: nothing starts again
	switch st {
	case slow:
		m.hub.remove(m)
		m.conn.Close(wsx.StatusPolicyViolation, "subscriber too slow")
	case goingAway:
		m.hub.remove(m)
		m.conn.Close(wsx.StatusGoingAway, "server shutting down")
	case failed:
		m.hub.remove(m)
		m.conn.CloseNow()
	}
	m.stop()
}

// stop releases the write timer and context of a member that is done.
func (m *member) stop() {
	if m.cancel != nil {
		m.timer.Stop()
		m.cancel()
	}
}
