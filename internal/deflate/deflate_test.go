package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// jsonText returns n bytes of JSON-like text: repeated keys, varying values,
// the typical WebSocket payload.
func jsonText(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := []string{"id", "type", "user", "channel", "text", "ts", "reactions", "edited"}
	words := []string{"hello", "world", "deflate", "window", "socket", "frame", "message", "the", "a", "of"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(`{"`)
		for i, k := range keys[:1+r.IntN(len(keys))] {
			if i > 0 {
				b.WriteString(`,"`)
			}
			fmt.Fprintf(&b, `%s":"%s %d"`, k, words[r.IntN(len(words))], r.IntN(100000))
		}
		b.WriteString("}\n")
	}
	return b.Bytes()[:n]
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testMessages returns messages that exercise the window: text, random
// bytes, a random block repeated at a distance just above and just below
// the window, long runs, and empty and tiny messages.
func testMessages(window int) [][]byte {
	far := randomBytes(7, window+300)
	farRepeat := append(append([]byte{}, far...), far[:min(1000, len(far))]...) // repeats at distance window+300
	near := randomBytes(8, window-10)
	nearRepeat := append(append([]byte{}, near...), near...) // repeats at distance window-10
	return [][]byte{
		jsonText(1, 4000),
		{},
		[]byte("a"),
		farRepeat,
		jsonText(1, 4000), // same as the first: context takeover finds it
		nearRepeat,
		bytes.Repeat([]byte("ab"), 70000),
		randomBytes(9, 70000),
		jsonText(2, 100),
		far[:min(1500, len(far))], // occurred two messages ago
		append(jsonText(3, 3*window), jsonText(3, 2*window)...),
	}
}

// TestCompressorWindow is the window proof of §7.1.2: for every window
// size the compressed stream is inflated by strictInflate, which refuses
// any distance beyond 2^bits, with the history carried across messages
// under context takeover (§7.1.1) and none otherwise.
func TestCompressorWindow(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		window := 1 << bits
		msgs := testMessages(window)
		for _, takeover := range []bool{true, false} {
			for _, level := range []int{BestSpeed, DefaultCompression, BestCompression} {
				for _, streaming := range []bool{false, true} {
					name := fmt.Sprintf("bits=%d/takeover=%v/level=%d/streaming=%v", bits, takeover, level, streaming)
					t.Run(name, func(t *testing.T) {
						c := NewCompressor(bits, takeover, level)
						var hist []byte
						maxDist := 0
						for i, m := range msgs {
							var payload []byte
							if streaming {
								for p := m; len(p) > 0; p = p[min(len(p), 1000+i):] {
									payload = c.Write(payload, p[:min(len(p), 1000+i)])
								}
								payload = c.Finish(payload)
							} else {
								payload = c.AppendMessage(nil, m)
							}
							if len(payload) >= 4 && bytes.HasSuffix(payload, messageTrailer[:]) {
								t.Fatalf("message %d: payload ends with 00 00 ff ff (§7.2.1)", i)
							}
							if !takeover {
								hist = nil
							}
							got, md, err := strictInflate(append(payload, messageTrailer[:]...), hist, window)
							if err != nil {
								t.Fatalf("message %d: %v", i, err)
							}
							if !bytes.Equal(got, m) {
								t.Fatalf("message %d: round trip differs", i)
							}
							hist = append(hist, m...)
							maxDist = max(maxDist, md)
						}
						// The data repeats at the window's size: a compressor
						// that used it should reach far.
						if maxDist < window/2 {
							t.Errorf("largest distance %d: the %d-byte window is hardly used", maxDist, window)
						}
					})
				}
			}
		}
	}
}

// inflateAll inflates payload with d, feeding it in pieces of inSize bytes
// and reading into a buffer of outSize bytes.
func inflateAll(d *Decompressor, payload []byte, inSize, outSize int) ([]byte, error) {
	out := make([]byte, outSize)
	var got []byte
	for {
		in := payload[:min(len(payload), inSize)]
		final := len(in) == len(payload)
		n, ns, err := d.Inflate(out, in, final)
		got = append(got, out[:n]...)
		payload = payload[ns:]
		if err == io.EOF {
			if len(payload) != 0 {
				return got, fmt.Errorf("%d input bytes left at the end of the message", len(payload))
			}
			return got, nil
		}
		if err != nil {
			return got, err
		}
		if n == 0 && ns == 0 && !final {
			return got, errors.New("no progress")
		}
	}
}

// TestRoundTripParams sends messages both ways for every combination of
// negotiated parameters (§7.1), inflating with small and large pieces.
func TestRoundTripParams(t *testing.T) {
	msgs := testMessages(1 << 9)
	for _, snct := range []bool{false, true} {
		for _, cnct := range []bool{false, true} {
			for _, sbits := range []int{8, 9, 12, 15} {
				for _, cbits := range []int{8, 11, 14, 15} {
					p := Params{ServerNoContextTakeover: snct, ClientNoContextTakeover: cnct, ServerMaxWindowBits: sbits, ClientMaxWindowBits: cbits}
					t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
						for _, server := range []bool{true, false} {
							c := p.NewCompressor(server, DefaultCompression)
							d := p.NewDecompressor(!server)
							for i, m := range msgs {
								payload := c.AppendMessage(nil, m)
								inSize, outSize := 1+i*97, 1+i*1013
								got, err := inflateAll(d, payload, inSize, outSize)
								if err != nil {
									t.Fatalf("server=%v message %d: %v", server, i, err)
								}
								if !bytes.Equal(got, m) {
									t.Fatalf("server=%v message %d: round trip differs", server, i)
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestInflateRFCExamples inflates the examples of RFC 7692 §7.2.3.
func TestInflateRFCExamples(t *testing.T) {
	hello := []byte("Hello")
	tests := []struct {
		name     string
		takeover bool
		payloads [][]byte
	}{
		{"7.2.3.1 one block", false, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}},
		{"7.2.3.2 shared window", true, [][]byte{
			{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
			{0xf2, 0x00, 0x11, 0x00, 0x00},
		}},
		{"7.2.3.3 stored block", false, [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}},
		{"7.2.3.4 two blocks", false, [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}},
		{"7.2.3.5 BFINAL set", true, [][]byte{
			{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00},
			{0xf2, 0x00, 0x11, 0x00, 0x00},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(15, tt.takeover)
			for i, p := range tt.payloads {
				for _, size := range []int{1, 100} {
					if size == 1 && tt.takeover {
						continue // the history must be built once
					}
					got, err := inflateAll(d, p, size, size)
					if err != nil || !bytes.Equal(got, hello) {
						t.Fatalf("payload %d: got %q, %v; want %q", i, got, err, hello)
					}
				}
			}
		})
	}
}

// TestEmptyMessage checks §7.2.3.6: an empty message compresses to the
// single byte 00 and inflates back to nothing.
func TestEmptyMessage(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		c := NewCompressor(15, takeover, DefaultCompression)
		c.AppendMessage(nil, []byte("warm up the history"))
		if got := c.AppendMessage(nil, nil); !bytes.Equal(got, []byte{0}) {
			t.Errorf("takeover=%v: empty message compresses to % x, want 00", takeover, got)
		}
		d := NewDecompressor(15, takeover)
		got, err := inflateAll(d, []byte{0}, 1, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("inflating 00: got %q, %v", got, err)
		}
	}
}

// TestFlushMidMessage checks that Flush makes everything written so far
// inflatable before the message ends, and that the message still ends
// correctly.
func TestFlushMidMessage(t *testing.T) {
	c := NewCompressor(12, true, DefaultCompression)
	d := NewDecompressor(12, true)
	m := jsonText(4, 5000)
	first := c.Flush(c.Write(nil, m[:3000]))
	out := make([]byte, 10000)
	n, ns, err := d.Inflate(out, first, false)
	if err != nil || ns != len(first) || !bytes.Equal(out[:n], m[:3000]) {
		t.Fatalf("after Flush: got %d bytes (%v), consumed %d of %d", n, err, ns, len(first))
	}
	rest := c.Finish(c.Write(nil, m[3000:]))
	got, err := inflateAll(d, rest, 10, 100)
	if err != nil || !bytes.Equal(got, m[3000:]) {
		t.Fatalf("rest: %v", err)
	}
}

// TestInflateStdlib inflates what compress/flate produces with a sync
// flush per message, in every piece size.
func TestInflateStdlib(t *testing.T) {
	msgs := testMessages(1 << 15)
	for _, takeover := range []bool{false, true} {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		d := NewDecompressor(15, takeover)
		for i, m := range msgs {
			buf.Reset()
			if !takeover {
				fw.Reset(&buf)
			}
			fw.Write(m)
			fw.Flush()
			payload := bytes.TrimSuffix(buf.Bytes(), messageTrailer[:])
			got, err := inflateAll(d, payload, 3+i*311, 1+i*777)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("takeover=%v message %d: %v", takeover, i, err)
			}
		}
	}
}

// TestInflateWindowViolation checks that a back-reference beyond the
// negotiated window is refused even when the bytes are at hand (§7.1.2):
// compress/flate uses a 32 KiB window whatever was negotiated.
func TestInflateWindowViolation(t *testing.T) {
	m := append(randomBytes(3, 2000), randomBytes(3, 2000)...) // repeats at distance 2000
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	fw.Write(m)
	fw.Flush()
	payload := bytes.TrimSuffix(buf.Bytes(), messageTrailer[:])
	if _, err := inflateAll(NewDecompressor(10, false), payload, 1<<20, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("window 1024: got %v, want a distance error", err)
	}
	if _, err := inflateAll(NewDecompressor(11, false), payload, 1<<20, 1<<20); err != nil {
		t.Fatalf("window 2048: %v", err)
	}
}

// zlib compresses with a 512-byte window when told 256 (window bits 8); such streams inflate.
func TestInflateWindow8AsZlib(t *testing.T) {
	m := append(randomBytes(4, 400), randomBytes(4, 400)...) // repeats at distance 400
	got, err := inflateAll(NewDecompressor(8, false), mustDeflate(t, m), 1<<20, 1<<20)
	if err != nil || !bytes.Equal(got, m) {
		t.Fatalf("window 8 (as 9): %d bytes, %v", len(got), err)
	}
	if _, err := inflateAll(NewDecompressor(8, false), mustDeflate(t, append(randomBytes(5, 600), randomBytes(5, 600)...)), 1<<20, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("distance 600 with window 8: %v, want a distance error", err)
	}
}

func mustDeflate(t *testing.T, m []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	fw.Write(m)
	fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), messageTrailer[:])
}

// bombPayload returns a compressed message that inflates to size zero
// bytes: dynamic blocks in which a 258-byte back-reference costs 2 bits.
func bombPayload(size int) []byte {
	e := new(encState)
	// raw is what the tokens of a block encode; flushBlock only writes it
	// if a stored block is smaller, which its size excludes.
	raw := make([]byte, maxTokens*maxMatch)
	e.addLiterals(raw[:1])
	covered := 1
	for n := size - 1; n > 0; {
		if e.ntok >= maxTokens-2 {
			e.flushBlock(raw[:covered])
			covered = 0
		}
		l := min(n, maxMatch)
		if l < 3 {
			e.addLiterals(raw[covered : covered+1])
			l = 1
		} else {
			e.addMatch(l, 1)
		}
		covered += l
		n -= l
	}
	e.flushBlock(raw[:covered])
	e.syncMarker()
	return e.bw.out
}

// TestInflateBomb checks that the limit applies to the inflated size: a
// 1 KiB message inflating to 1 MiB and a 1 MiB one inflating to 1 GiB are
// refused with ErrTooLarge after exactly the limit, having read only a
// little of the input and allocated little memory.
func TestInflateBomb(t *testing.T) {
	small := bombPayload(1 << 20)
	if len(small) > 1100 {
		t.Fatalf("1 MiB bomb is %d bytes", len(small))
	}
	got, err := inflateAll(NewDecompressor(15, false), small, 1<<20, 1<<20)
	if err != nil || len(got) != 1<<20 || !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Fatalf("without a limit: %d bytes, %v", len(got), err)
	}
	big := bombPayload(1 << 30)
	t.Logf("bombs: 1 MiB in %d bytes, 1 GiB in %d bytes", len(small), len(big))
	for _, tt := range []struct {
		payload []byte
		limit   int64
	}{{small, 64 << 10}, {big, 1 << 20}} {
		d := NewDecompressor(15, true)
		d.SetLimit(tt.limit)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out := make([]byte, 32<<10)
		total, consumed := int64(0), 0
		for {
			n, ns, err := d.Inflate(out, tt.payload[consumed:], true)
			total += int64(n)
			consumed += ns
			if err == ErrTooLarge {
				break
			}
			if err != nil {
				t.Fatalf("limit %d: %v after %d bytes", tt.limit, err, total)
			}
		}
		runtime.ReadMemStats(&after)
		if total != tt.limit {
			t.Errorf("produced %d bytes before ErrTooLarge, want the limit %d", total, tt.limit)
		}
		if consumed > len(tt.payload)/8+64 {
			t.Errorf("consumed %d of %d input bytes before refusing", consumed, len(tt.payload))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
			t.Errorf("allocated %d bytes while inflating", alloc)
		}
	}
}

// TestInflateCorrupt checks errors on invalid data and truncation.
func TestInflateCorrupt(t *testing.T) {
	for _, tt := range []struct {
		name    string
		payload []byte
		want    error
	}{
		{"reserved block type", []byte{0x07}, errBlockType},
		{"stored length complement", []byte{0x00, 0x05, 0x00, 0xfa, 0xfe}, errStoredLen},
		{"truncated block", []byte{0xf2, 0x48, 0xcd}, errTruncated},
		{"distance before the start", []byte{0x02, 0x00, 0x00}, nil},
	} {
		_, err := inflateAll(NewDecompressor(15, false), tt.payload, 100, 100)
		if tt.want != nil && err != tt.want || tt.want == nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}
