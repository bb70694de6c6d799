//go:build !js

package wsx

import "sync/atomic"

// DefaultMessageMemoryLimit is the message memory limit a process starts with (see
// SetMessageMemoryLimit).
const DefaultMessageMemoryLimit = 1 << 30

// SetMessageMemoryLimit sets the most memory, in bytes, that the messages being received may
// hold at once across every connection of the process, and returns the previous limit; a
// negative limit only reports it. It is one number for a whole server, so that no number of
// hostile connections, each sending the start of a message as large as its read limit and
// stalling, can make the process hold more (ReadLimit bounds one message, StallTimeout how long
// it may be held).
//
// What counts is the buffer wsx grows for a message that ReadMessage is reading beyond the room
// the caller's buffer had, from the first byte it needs until ReadMessage returns. A message that
// would go past the limit fails its connection with StatusTryAgainLater (1013). Reader, which
// streams a message into the caller's buffers, holds nothing.
func SetMessageMemoryLimit(limit int64) int64 {
	if limit < 0 {
		return messageMemory.limit.Load()
	}
	return messageMemory.limit.Swap(limit)
}

// messageMemory is the process's budget for messages being received.
var messageMemory = func() *budget {
	b := new(budget)
	b.limit.Store(DefaultMessageMemoryLimit)
	return b
}()

// budget is memory shared by all connections.
type budget struct {
	limit atomic.Int64
	used  atomic.Int64
}

// reserve takes n bytes from the budget, or reports false when they are not there.
func (b *budget) reserve(n int64) bool {
	if b.used.Add(n) > b.limit.Load() {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *budget) release(n int64) { b.used.Add(-n) }
