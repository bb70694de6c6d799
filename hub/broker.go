//go:build !js

package hub

import (
	"context"

	"github.com/wsx-go/wsx"
)

// A Message is what a Broker carries between hubs: a message published on a topic.
type Message struct {
	Topic        string
	Type         wsx.MessageType // MessageText or MessageBinary
	Data         []byte
	Uncompressed bool // published with wsx.Uncompressed
}

// options returns the write options the message was published with.
func (m *Message) options() []wsx.WriteOption {
	if m.Uncompressed {
		return []wsx.WriteOption{wsx.Uncompressed}
	}
	return nil
}

// A Broker carries the messages a Hub publishes to the other hubs that have subscribers on
// the same topics, in other processes or on other machines, and brings theirs back. A Hub
// without a Broker delivers to its own subscribers only. The module
// github.com/wsx-go/wsx/natsbroker provides one on NATS.
//
// A Hub delivers what it publishes to its own subscribers itself, so a Broker must not give
// a hub's messages back to it.
type Broker interface {
	// Publish sends msg to the other hubs subscribed to msg.Topic. Messages that one Broker
	// publishes on one topic reach each other hub in the order of the calls. Publish does not
	// keep msg.Data after it returns.
	Publish(ctx context.Context, msg Message) error

	// Subscribe starts calling deliver with the messages that other hubs publish on topic,
	// one call at a time and in order for the topic; it returns once the subscription is in
	// effect, so that messages published after that reach this hub. deliver must not keep
	// msg.Data after it returns. The returned function ends the subscription.
	Subscribe(ctx context.Context, topic string, deliver func(Message)) (cancel func(), err error)
}
