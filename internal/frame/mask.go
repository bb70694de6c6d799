package frame

import "encoding/binary"

// Mask XORs b in place with key, starting at key offset pos (0-3), and
// returns the key offset for the byte that follows b: (pos+len(b)) & 3.
// Masking and unmasking are the same operation (§5.3), so a payload split
// across several reads is unmasked by passing each call's result to the next.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	next := (pos + len(b)) & 3
	if len(b) < 8 {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
		return next
	}
	// The key rotated so that its first byte applies to b[0], repeated to 64
	// bits; XORing whole words keeps the phase because 8 is a multiple of 4.
	k32 := uint32(key[pos]) | uint32(key[(pos+1)&3])<<8 |
		uint32(key[(pos+2)&3])<<16 | uint32(key[(pos+3)&3])<<24
	k := uint64(k32)<<32 | uint64(k32)
	if n := len(b) &^ 63; n > 0 {
		maskBlocks(b[:n], k)
		b = b[n:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k >> (8 * i))
	}
	return next
}
