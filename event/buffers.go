//go:build !js

package event

import (
	"math/bits"
	"sync"
)

// Buffers for messages being assembled and output waiting for the socket come from pools in
// power-of-two sizes, so that a connection holds one only while it needs it and steady
// traffic allocates nothing, large messages included (a 16 MiB echo took 3x the CPU of
// wsx.Conn's while buffers above 1 MiB were allocated, zeroed and dropped for every message).
// Sizes above the largest class are allocated and dropped.
const (
	minBufferShift = 9  // 512 B
	maxBufferShift = 24 // 16 MiB
)

var bufferPools [maxBufferShift - minBufferShift + 1]sync.Pool

// bufferClass returns the pool index for a buffer of at least n bytes, or -1 when n is
// larger than the largest class.
func bufferClass(n int) int {
	if n <= 1<<minBufferShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minBufferShift
	if c >= len(bufferPools) {
		return -1
	}
	return c
}

// bufferSize returns the capacity of the buffer getBuffer(n) returns.
func bufferSize(n int) int {
	if c := bufferClass(n); c >= 0 {
		return 1 << (c + minBufferShift)
	}
	return n
}

// getBuffer returns an empty buffer with room for at least n bytes, up to twice that.
func getBuffer(n int) []byte {
	c := bufferClass(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if p, ok := bufferPools[c].Get().(*[]byte); ok {
		b := *p
		*p = nil
		boxes.Put(p)
		return b[:0]
	}
	return make([]byte, 0, 1<<(c+minBufferShift))
}

// messageBuffer is getBuffer for the last room a message being assembled needs (the rest of
// its frame, or up to the read limit), which the message memory budget is charged for by
// capacity: above 1 MiB a buffer comes from a pool only when n is a class's own size, so that
// a 9 MiB message is not charged for 16.
func messageBuffer(n int) []byte {
	if n > 1<<20 && n&(n-1) != 0 { // the classes are powers of two
		return make([]byte, 0, n)
	}
	return getBuffer(n)
}

// putBuffer gives back a buffer from getBuffer or messageBuffer.
func putBuffer(b []byte) {
	c := bufferClass(cap(b))
	if c < 0 || cap(b) != 1<<(c+minBufferShift) {
		return
	}
	p, _ := boxes.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	bufferPools[c].Put(p)
}

// boxes recycles the pointers that buffers travel in through their pools, so that neither
// getting nor putting a buffer allocates.
var boxes sync.Pool
