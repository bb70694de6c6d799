// Package natsbroker joins hubs (github.com/wsx-go/wsx/hub) in several processes or on
// several machines through NATS (https://nats.io): what one hub publishes on a topic, the
// others deliver to their own subscribers.
//
//	nc, err := nats.Connect("nats://nats.internal:4222", nats.NoEcho(), nats.MaxReconnects(-1))
//	...
//	b, err := natsbroker.New(nc, "")
//	h := hub.New(&hub.Options{Broker: b})
//
// It is its own module, so that the core of wsx depends on nothing.
//
// # Delivery
//
// NATS core delivers at most once. Messages that one hub publishes on a topic reach every
// other hub in order, none twice. While the connection to NATS is down, a hub still delivers
// its own messages to its own subscribers at once; what it publishes is kept by the NATS
// client (up to nats.ReconnectBufSize, 8 MiB by default; Publish fails past that) and sent
// when it reconnects, in order; after the reconnect the hub's subscriptions are restored.
// Across an outage, delivery to the other hubs is at most once, and what is lost is one run
// of consecutive messages: what the publishing hub's client had written to the connection
// but the server had not read when it went away (a few messages), and every message that
// reaches the NATS server before another hub's connection and subscriptions are back, the
// publisher's buffered ones included when its client reconnects first. NATS core keeps no
// history. Once both are connected again, delivery resumes, in order. Use JetStream, or a
// sequence number in your messages, where a gap matters.
//
// # Subjects
//
// A topic's messages travel on the subject "<prefix>.<topic>" when the topic is made of
// letters, digits, '-', '_' and '.' (with no empty part), as in "wsx.chat.room-1"; any other
// topic travels as "<prefix>.~<base64url of the topic>". A message's payload is one byte of
// flags (bit 0: binary, bit 1: uncompressed) followed by the message.
package natsbroker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/hub"
)

// DefaultPrefix starts the subjects of a Broker created with an empty prefix.
const DefaultPrefix = "wsx"

// subscribeTimeout bounds Subscribe's wait for the server when ctx has no deadline.
const subscribeTimeout = 10 * time.Second

// A Broker is a hub.Broker on a NATS connection. It is safe for concurrent use.
type Broker struct {
	nc       *nats.Conn
	prefix   string
	subjects sync.Map // topic -> subject
}

var _ hub.Broker = (*Broker)(nil)

// New returns a Broker on nc, whose subjects start with prefix (DefaultPrefix if empty), so
// that several applications can share one NATS. nc must have been connected with
// nats.NoEcho(): a hub delivers its own messages itself and must not get them back. The
// Broker does not close nc.
func New(nc *nats.Conn, prefix string) (*Broker, error) {
	if !nc.Opts.NoEcho {
		return nil, errors.New("wsx: natsbroker needs a NATS connection made with nats.NoEcho()")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !plainSubject(prefix) {
		return nil, errors.New("wsx: natsbroker prefix " + prefix + " is not a NATS subject of letters, digits, '-', '_' and '.'")
	}
	return &Broker{nc: nc, prefix: prefix}, nil
}

// Publish sends msg to the other hubs. It does not wait for NATS: the message goes into the
// client's buffer, so ctx only stops a call that starts after it is done.
func (b *Broker) Publish(ctx context.Context, msg hub.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bp := payloads.Get().(*[]byte)
	*bp = append(append((*bp)[:0], flags(msg)), msg.Data...)
	err := b.nc.Publish(b.subject(msg.Topic), *bp)
	payloads.Put(bp)
	if err != nil {
		return fmt.Errorf("wsx: natsbroker: %w", err)
	}
	return nil
}

var payloads = sync.Pool{New: func() any { return new([]byte) }}

// Subscribe asks NATS for the other hubs' messages on topic and waits, within ctx (or 10 s
// without a deadline), until the server has the subscription. While the connection is down it
// returns at once: the subscription is made when the client reconnects.
func (b *Broker) Subscribe(ctx context.Context, topic string, deliver func(hub.Message)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subject(topic), func(m *nats.Msg) {
		if typ, uncompressed, ok := decodeFlags(m.Data); ok {
			deliver(hub.Message{Topic: topic, Type: typ, Data: m.Data[1:], Uncompressed: uncompressed})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("wsx: natsbroker: %w", err)
	}
	if !b.nc.IsReconnecting() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, subscribeTimeout)
			defer cancel()
		}
		if err := b.nc.FlushWithContext(ctx); err != nil && !b.nc.IsReconnecting() {
			sub.Unsubscribe()
			return nil, fmt.Errorf("wsx: natsbroker: subscribing to %q: %w", topic, err)
		}
	}
	return func() { sub.Unsubscribe() }, nil
}

// subject returns the subject of topic's messages.
func (b *Broker) subject(topic string) string {
	if s, ok := b.subjects.Load(topic); ok {
		return s.(string)
	}
	s := b.prefix + "."
	if plainSubject(topic) && topic[0] != '~' {
		s += topic
	} else {
		s += "~" + base64.RawURLEncoding.EncodeToString([]byte(topic))
	}
	b.subjects.Store(topic, s)
	return s
}

// plainSubject reports whether s can be a NATS subject as it is, without wildcards: letters,
// digits, '-' and '_' in parts separated by single dots.
func plainSubject(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '~':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// The flags byte in front of every payload.
const (
	flagBinary       = 1 << 0
	flagUncompressed = 1 << 1
)

func flags(msg hub.Message) byte {
	var f byte
	if msg.Type == wsx.MessageBinary {
		f |= flagBinary
	}
	if msg.Uncompressed {
		f |= flagUncompressed
	}
	return f
}

// decodeFlags decodes the flags at the start of a payload; ok is false for a payload that no
// Broker made (empty, or with unknown flags), which is dropped.
func decodeFlags(p []byte) (typ wsx.MessageType, uncompressed, ok bool) {
	if len(p) == 0 || p[0]&^(flagBinary|flagUncompressed) != 0 {
		return 0, false, false
	}
	typ = wsx.MessageText
	if p[0]&flagBinary != 0 {
		typ = wsx.MessageBinary
	}
	return typ, p[0]&flagUncompressed != 0, true
}
