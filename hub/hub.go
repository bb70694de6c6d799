//go:build !js

// Package hub delivers messages published on topics to the WebSocket connections subscribed
// to them, as chat rooms, live dashboards and notification services do.
//
// A published message is framed once for all its subscribers (wsx.PreparedMessage), and
// compressed once for every group of subscribers whose permessage-deflate settings allow
// sharing (no context takeover on the server's side, the same window): a fan-out server
// should accept with wsx.CompressionOptions{NoContextTakeover: true}. Publish only posts the
// message, at a cost that does not grow with the number of subscribers; a dispatcher queues
// everything posted since its last pass for each subscriber at once. Each subscriber has a
// queue bounded in bytes (Options.MaxPending); what is queued goes out coalesced, a burst in
// one system call; a goroutine writes to a subscriber only while it has output pending, so an
// idle subscriber costs no goroutine. A subscriber that falls behind is closed
// with StatusPolicyViolation (1008), or has its oldest messages dropped (Options.Overflow).
//
// With a Broker, hubs in several processes deliver each other's messages
// (github.com/wsx-go/wsx/natsbroker: NATS).
//
// A Hub uses the public API of wsx only; the application keeps reading from its connections
// (which answers pings and the peer's Close) and calls Leave when a connection ends.
package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

// Defaults for Options.
const (
	// DefaultMaxPending bounds the output waiting for one subscriber.
	DefaultMaxPending = 1 << 20
	// DefaultWriteTimeout bounds one write to a subscriber.
	DefaultWriteTimeout = 10 * time.Second
)

// Overflow is what a Hub does when a message would take a subscriber's pending output past
// Options.MaxPending.
type Overflow int

const (
	// CloseSlow, the default, drops the subscriber's queue and closes its connection with
	// StatusPolicyViolation (1008) once the write in progress is done. A client that reads
	// again sees the code; one that never does is cut off by Options.WriteTimeout.
	CloseSlow Overflow = iota
	// DropOldest drops the oldest queued messages until the new one fits: the subscriber
	// misses some messages but keeps up with the latest, as a live dashboard wants.
	DropOldest
)

// Options configure a Hub. The zero value of every field selects its default.
type Options struct {
	// Broker carries messages to and from hubs in other processes; nil keeps them within
	// this Hub.
	Broker Broker

	// MaxPending bounds the bytes waiting to be written to one subscriber, the write in
	// progress included: each message counts its payload plus 32 bytes of bookkeeping.
	// A subscriber with nothing pending takes any message, whatever its size. Zero means
	// DefaultMaxPending. Messages are shared, so the memory a topic holds is about the
	// longest queue of its subscribers, not their sum.
	MaxPending int

	// WriteTimeout bounds each write to a subscriber: one that takes longer ends the
	// subscriber's connection (without a Close frame, which could not get through). Zero
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Overflow says what happens to a subscriber whose pending output is full; the zero
	// value is CloseSlow.
	Overflow Overflow
}

// ErrClosed is returned by Publish and Subscribe once the Hub is shutting down.
var ErrClosed = errors.New("wsx: hub is shut down")

// A Hub delivers messages published on topics to the connections subscribed to them. It is
// safe for concurrent use.
type Hub struct {
	broker       Broker
	maxPending   int
	writeTimeout time.Duration
	overflow     Overflow

	mu      sync.RWMutex
	topics  map[string]*topic
	members map[*wsx.Conn]*member
	closing atomic.Bool
	empty   chan struct{} // closed when the last member goes during Shutdown

	writers sync.WaitGroup // goroutines writing to members, and the dispatcher

	// Published messages on their way to the members' queues (dispatch.go).
	outMu       sync.Mutex
	out         []outgoing // posted, not yet queued for the members
	dispatching bool       // a dispatcher runs
	outClosed   bool       // Shutdown has delivered what was posted: post drops what comes
	dispatchFn  func()     // h.dispatch, bound once: a go statement with a method value would allocate
	dispatchMu  sync.Mutex // held while queueing posted messages for the members
	spareOut    []outgoing // room for the next pass; under dispatchMu
}

// topic is a topic with subscribers here.
type topic struct {
	name string

	mu      sync.RWMutex // guards members; taken for reading to publish
	members []*member

	// Under Hub.mu:
	refs   int           // members, and Subscribe calls in progress
	ready  chan struct{} // closed once the broker subscription has been made, or failed
	err    error         // why it failed
	cancel func()        // ends the broker subscription
}

// New returns a Hub; opts may be nil.
func New(opts *Options) *Hub {
	if opts == nil {
		opts = &Options{}
	}
	h := &Hub{
		broker:       opts.Broker,
		maxPending:   opts.MaxPending,
		writeTimeout: opts.WriteTimeout,
		overflow:     opts.Overflow,
		topics:       map[string]*topic{},
		members:      map[*wsx.Conn]*member{},
	}
	if h.maxPending <= 0 {
		h.maxPending = DefaultMaxPending
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = DefaultWriteTimeout
	}
	return h
}

// Subscribe adds c to topic's subscribers; it does nothing if c is subscribed already. With a
// Broker, the first subscriber of a topic subscribes the Hub to it, and ctx bounds that.
func (h *Hub) Subscribe(ctx context.Context, c *wsx.Conn, topic string) error {
	h.mu.Lock()
	if h.closing.Load() {
		h.mu.Unlock()
		return ErrClosed
	}
	t := h.topics[topic]
	first := t == nil
	if first {
		t = newTopic(topic)
		h.topics[topic] = t
	}
	t.refs++
	h.mu.Unlock()

	if first {
		h.subscribeBroker(ctx, t)
	} else {
		select {
		case <-t.ready:
		case <-ctx.Done():
			h.release(t)
			return ctx.Err()
		}
	}
	if t.err != nil {
		h.release(t)
		return t.err
	}

	h.flush() // what was published before goes to the subscribers before c
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		h.releaseLocked(t)
		return ErrClosed
	}
	m := h.members[c]
	if m == nil || !m.alive() {
		m = &member{hub: h, conn: c}
		h.members[c] = m
	}
	if m.in(t) {
		h.releaseLocked(t)
		return nil
	}
	t.mu.Lock()
	m.subs = append(m.subs, sub{t, len(t.members)})
	t.members = append(t.members, m)
	t.mu.Unlock()
	return nil
}

func newTopic(name string) *topic {
	return &topic{name: name, ready: make(chan struct{})}
}

// subscribeBroker subscribes the Hub to a new topic on the broker.
func (h *Hub) subscribeBroker(ctx context.Context, t *topic) {
	defer close(t.ready)
	if h.broker == nil {
		return
	}
	t.cancel, t.err = h.broker.Subscribe(ctx, t.name, func(msg Message) {
		// Another hub's message: it was checked where it was published, and a bad one (from
		// a foreign publisher on the broker) is dropped.
		if m, err := wsx.NewPreparedMessage(msg.Type, msg.Data, msg.options()...); err == nil {
			h.post(t, m, len(msg.Data))
		}
	})
}

// release drops a reference to t taken by Subscribe, and the topic with the last one.
func (h *Hub) release(t *topic) {
	h.mu.Lock()
	cancel := h.releaseLocked(t)
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// releaseLocked is release with Hub.mu held; it returns the broker subscription to end, if
// the topic has gone, for the caller to end once it has let go of the lock.
func (h *Hub) releaseLocked(t *topic) (cancel func()) {
	t.refs--
	if t.refs > 0 {
		return nil
	}
	if h.topics[t.name] == t {
		delete(h.topics, t.name)
	}
	return t.cancel
}

// Unsubscribe removes c from topic's subscribers. Messages published on topic before still go
// out to c.
func (h *Hub) Unsubscribe(c *wsx.Conn, topic string) {
	h.flush()
	h.mu.Lock()
	var cancel func()
	if m := h.members[c]; m != nil {
		for i, s := range m.subs {
			if s.t.name == topic {
				cancel = h.unlink(m, i)
				break
			}
		}
		if len(m.subs) == 0 {
			h.drop(m)
		}
	}
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Leave removes c from every topic and drops what is queued for it; the write in progress,
// if any, finishes. Call it when a connection ends. It does not close c.
func (h *Hub) Leave(c *wsx.Conn) {
	h.mu.RLock()
	m := h.members[c]
	h.mu.RUnlock()
	if m != nil {
		h.remove(m)
		m.leave()
	}
}

// forget removes m from every topic and from the Hub; it returns the broker subscriptions
// to end. The caller holds Hub.mu.
func (h *Hub) forget(m *member) (cancels []func()) {
	for len(m.subs) > 0 {
		if cancel := h.unlink(m, len(m.subs)-1); cancel != nil {
			cancels = append(cancels, cancel)
		}
	}
	h.drop(m)
	return cancels
}

// drop removes m from the Hub's members; the caller holds Hub.mu.
func (h *Hub) drop(m *member) {
	if h.members[m.conn] != m {
		return // replaced already
	}
	delete(h.members, m.conn)
	if len(h.members) == 0 && h.empty != nil {
		close(h.empty)
		h.empty = nil
	}
}

// remove takes m out of the Hub, for good.
func (h *Hub) remove(m *member) {
	h.mu.Lock()
	cancels := h.forget(m)
	h.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
}

// unlink removes m from the topic of m.subs[i]; the caller holds Hub.mu.
func (h *Hub) unlink(m *member, i int) (cancel func()) {
	s := m.subs[i]
	t := s.t
	t.mu.Lock()
	last := len(t.members) - 1
	if s.index != last {
		moved := t.members[last]
		t.members[s.index] = moved
		moved.subs[moved.find(t)].index = s.index
	}
	t.members[last] = nil
	t.members = t.members[:last]
	t.mu.Unlock()
	m.subs[i] = m.subs[len(m.subs)-1]
	m.subs = m.subs[:len(m.subs)-1]
	return h.releaseLocked(t)
}

// Publish sends a message of type typ to topic's subscribers here and, with a Broker, to the
// other hubs; opts are those of wsx.Conn.Write (wsx.Uncompressed). It does not wait for the
// message to be written, nor to be queued for each subscriber: its cost does not depend on
// the number of subscribers (see dispatch.go). Each subscriber gets the messages published
// on its topics in the order of the Publish calls that returned before one another. A text
// message must be valid UTF-8. Publish does not keep data. An error from the Broker means
// other hubs may have missed the message; this Hub's subscribers have it.
func (h *Hub) Publish(ctx context.Context, topic string, typ wsx.MessageType, data []byte, opts ...wsx.WriteOption) error {
	if h.closing.Load() {
		return ErrClosed
	}
	m, err := wsx.NewPreparedMessage(typ, data, opts...)
	if err != nil {
		return err
	}
	h.mu.RLock()
	t := h.topics[topic]
	h.mu.RUnlock()
	if t != nil {
		h.post(t, m, len(data))
	}
	if h.broker == nil {
		return nil
	}
	return h.broker.Publish(ctx, Message{Topic: topic, Type: typ, Data: data, Uncompressed: slices.Contains(opts, wsx.Uncompressed)})
}

// Shutdown stops the Hub: Publish and Subscribe return ErrClosed from now on, every
// subscriber's queued messages are written, and its connection is closed with
// StatusGoingAway (1001, §7.4.1) and the closing handshake. Shutdown waits for all that until
// ctx is done; then it drops the connections left without a handshake and returns ctx's error.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if h.closing.Swap(true) {
		h.mu.Unlock()
		return errors.New("wsx: hub shut down twice")
	}
	members := make([]*member, 0, len(h.members))
	for _, m := range h.members {
		members = append(members, m)
	}
	var empty chan struct{}
	if len(members) > 0 {
		empty = make(chan struct{})
		h.empty = empty
	}
	h.mu.Unlock()
	// What was published before goes into the queues, which the members write before their
	// 1001; a message posted from now on (by the Broker) is dropped, and no dispatcher starts
	// after writers.Wait below has begun.
	h.outMu.Lock()
	h.outClosed = true
	h.outMu.Unlock()
	h.flush()
	for _, m := range members {
		m.goAway()
	}
	var err error
	if empty != nil {
		select {
		case <-empty:
		case <-ctx.Done():
			err = ctx.Err()
			for _, m := range members {
				m.conn.CloseNow()
			}
		}
	}
	h.writers.Wait()
	return err
}
