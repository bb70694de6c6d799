//go:build !js

package hub

import "github.com/wsx-go/wsx"

// Publishing and delivering are apart. Publish only posts the message, whatever the number of
// subscribers; a dispatcher goroutine, running while there are posted messages, takes all
// that were posted since its last pass and queues them for each subscriber in one go, under
// one lock per subscriber, and starts the subscriber's writer if none runs.
//
// This is what makes a burst one write. Queueing a message for 10,000 subscribers takes
// about a millisecond; done in Publish, for every message of a burst, it kept the publisher
// busy long enough to be preempted in the middle of the burst, and the writers, started by
// the first message, sent it alone. Posted, a burst of 16 takes microseconds; the dispatcher
// then queues all 16 at once, and each writer finds them all.

// outgoing is a posted message on its way to the subscribers' queues.
type outgoing struct {
	t    *topic
	m    *wsx.PreparedMessage
	size int // payload bytes
}

// maxSpareOut is the most posted messages whose room the dispatcher keeps for the next pass:
// a rare huge backlog must not pin its size in memory for good.
const maxSpareOut = 4096

// post hands m, whose payload is size bytes, to the dispatcher for t's subscribers.
func (h *Hub) post(t *topic, m *wsx.PreparedMessage, size int) {
	h.outMu.Lock()
	if h.outClosed {
		h.outMu.Unlock()
		return // Shutdown has delivered what was published before it
	}
	h.out = append(h.out, outgoing{t, m, size})
	if !h.dispatching {
		h.dispatching = true
		h.writers.Add(1) // under outMu: Shutdown's Wait starts after it (see Shutdown)
		if h.dispatchFn == nil {
			h.dispatchFn = h.dispatch
		}
		go h.dispatchFn()
	}
	h.outMu.Unlock()
}

// dispatch queues what is posted for the subscribers until nothing is left, and ends.
func (h *Hub) dispatch() {
	defer h.writers.Done()
	for {
		h.dispatchMu.Lock()
		h.outMu.Lock()
		if len(h.out) == 0 {
			h.dispatching = false
			h.outMu.Unlock()
			h.dispatchMu.Unlock()
			return
		}
		h.outMu.Unlock()
		h.deliverPosted()
		h.dispatchMu.Unlock()
	}
}

// flush queues for the subscribers everything posted so far, in the caller: Subscribe and
// Unsubscribe call it so that a change of subscription falls between the messages published
// before it and those published after.
func (h *Hub) flush() {
	h.dispatchMu.Lock()
	for h.deliverPosted() {
	}
	h.dispatchMu.Unlock()
}

// deliverPosted takes the posted messages and queues them for their subscribers; it reports
// whether there were any. The caller holds dispatchMu, which keeps the passes in the order of
// the posts.
func (h *Hub) deliverPosted() bool {
	h.outMu.Lock()
	batch := h.out
	h.out = h.spareOut[:0]
	h.outMu.Unlock()
	h.spareOut = nil
	// Runs of one topic go to its subscribers together; a subscriber of several topics
	// still gets every message in the order it was published.
	for rest := batch; len(rest) > 0; {
		n := 1
		for n < len(rest) && rest[n].t == rest[0].t {
			n++
		}
		rest[0].t.deliver(rest[:n])
		rest = rest[n:]
	}
	clear(batch)
	if cap(batch) <= maxSpareOut {
		h.spareOut = batch[:0]
	}
	return len(batch) > 0
}

// deliver queues run, messages posted for t, for every subscriber of t.
func (t *topic) deliver(run []outgoing) {
	t.mu.RLock()
	for _, mb := range t.members {
		mb.enqueue(run)
	}
	t.mu.RUnlock()
}
