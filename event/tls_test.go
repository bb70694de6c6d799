//go:build !js

package event

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// FuzzTLSRecords: whatever the bytes and however they arrive, the link hands tls.Conn all of
// them, in order, and never past the end of a record in one read (RFC 8446 §5.1), so that
// crypto/tls is not asked for a record it does not have.
func FuzzTLSRecords(f *testing.F) {
	record := func(n int) []byte {
		b := []byte{23, 3, 3, 0, 0}
		binary.BigEndian.PutUint16(b[3:], uint16(n))
		return append(b, make([]byte, n)...)
	}
	f.Add(append(record(10), record(300)...), uint64(1))
	f.Add(append(record(0), record(16384+256)...), uint64(2))
	f.Add([]byte{23, 3}, uint64(3))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		// Where records end, from their headers.
		ends := map[int]bool{}
		for i := 0; i+5 <= len(stream); {
			i += 5 + int(binary.BigEndian.Uint16(stream[i+3:]))
			ends[i] = true
		}
		rng := rand.New(rand.NewPCG(seed, 9))
		t2 := &tlsLink{open: true}
		var got []byte
		for rest := stream; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			t2.in, rest = rest[:k], rest[k:]
			for len(t2.in) > 0 {
				p := make([]byte, 1+rng.IntN(40))
				n, err := t2.Read(p)
				if err != nil || n == 0 {
					t.Fatalf("Read: %d, %v with %d bytes to give", n, err, len(t2.in))
				}
				for i := len(got) + 1; i < len(got)+n; i++ {
					if ends[i] {
						t.Fatalf("a read of %d bytes from %d crossed the end of a record at %d", n, len(got), i)
					}
				}
				got = append(got, p[:n]...)
			}
			if _, err := t2.Read(make([]byte, 8)); err != errWouldBlock {
				t.Fatalf("Read with nothing to give: %v, want errWouldBlock", err)
			}
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("tls.Conn got %d bytes, not the %d read", len(got), len(stream))
		}
	})
}
