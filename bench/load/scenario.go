package load

import (
	"encoding/binary"
	"github.com/wsx-go/wsx/internal/frame"
	"math/rand/v2"
	"strings"
)

// Kind is what a scenario measures.
type Kind int

const (
	KindEcho    Kind = iota // messages echoed: CPU per message, rate, latency
	KindIdle                // connections held open: server memory per connection
	KindConnect             // handshakes: CPU per handshake, rate, latency
)

// Scenario is one benchmark workload.
type Scenario struct {
	Name     string
	Desc     string
	Kind     Kind
	Conns    int
	InFlight int  // messages outstanding per connection (KindEcho), or in all (KindFanout)
	Burst    int  // messages the fan-out publisher sends at once (KindFanout)
	Size     int  // payload bytes, before compression
	Text     bool // text messages (else binary)
	Deflate  bool // permessage-deflate
}

// Scenarios are the workloads of the benchmark, in the order they run.
var Scenarios = []Scenario{
	{Name: "echo16", Desc: "100 conns x 16 B request/response", Kind: KindEcho, Conns: 100, InFlight: 1, Size: 16},
	{Name: "pipe1k", Desc: "100 conns x 1 KiB, 8 in flight", Kind: KindEcho, Conns: 100, InFlight: 8, Size: 1 << 10},
	{Name: "pipe1k32", Desc: "100 conns x 1 KiB, 32 in flight", Kind: KindEcho, Conns: 100, InFlight: 32, Size: 1 << 10},
	{Name: "big64k", Desc: "10 conns x 64 KiB", Kind: KindEcho, Conns: 10, InFlight: 1, Size: 64 << 10},
	{Name: "big1m", Desc: "10 conns x 1 MiB", Kind: KindEcho, Conns: 10, InFlight: 1, Size: 1 << 20},
	{Name: "big16m", Desc: "4 conns x 16 MiB", Kind: KindEcho, Conns: 4, InFlight: 1, Size: 16 << 20},
	{Name: "deflate4k", Desc: "10 conns x 4 KiB text, permessage-deflate", Kind: KindEcho, Conns: 10, InFlight: 1, Size: 4 << 10, Text: true, Deflate: true},
	{Name: "idle10k", Desc: "10,000 idle conns: server RSS per conn", Kind: KindIdle, Conns: 10000, Size: 16},
	{Name: "connect", Desc: "new connections: server CPU per handshake", Kind: KindConnect, Conns: 8},
	{Name: "fan64", Desc: "fan-out to 10,000 subscribers, bursts of 16 x 64 B", Kind: KindFanout, Conns: 10000, InFlight: 32, Burst: 16, Size: 64},
	{Name: "fan1k", Desc: "fan-out to 10,000 subscribers, bursts of 16 x 1 KiB", Kind: KindFanout, Conns: 10000, InFlight: 32, Burst: 16, Size: 1 << 10},
	{Name: "fan64z", Desc: "fan-out to 10,000 subscribers, bursts of 16 x 64 B text, permessage-deflate", Kind: KindFanout, Conns: 10000, InFlight: 32, Burst: 16, Size: 64, Text: true, Deflate: true},
	{Name: "fan1kz", Desc: "fan-out to 10,000 subscribers, bursts of 16 x 1 KiB text, permessage-deflate", Kind: KindFanout, Conns: 10000, InFlight: 32, Burst: 16, Size: 1 << 10, Text: true, Deflate: true},
	{Name: "fan64s", Desc: "fan-out to 10,000 subscribers, a steady stream of 64 B (16 in flight)", Kind: KindFanout, Conns: 10000, InFlight: 16, Burst: 1, Size: 64},
}

// Find returns the scenario called name.
func Find(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Payload returns the scenario's message payload, the same on every call: random bytes for
// binary messages, and for text a JSON-like log line mix that compresses about as well as
// typical application messages.
func (s Scenario) Payload() []byte {
	r := rand.New(rand.NewPCG(uint64(s.Size), 7))
	if !s.Text {
		p := make([]byte, s.Size+7)
		for i := 0; i < s.Size; i += 8 {
			binary.LittleEndian.PutUint64(p[i:], r.Uint64())
		}
		return p[:s.Size:s.Size]
	}
	words := []string{"user", "order", "price", "quantity", "status", "active", "pending", "shipped",
		"id", "timestamp", "région", "currency", "EUR", "USD", "value", "items", "name", "ok"}
	var b strings.Builder
	for b.Len() < s.Size {
		b.WriteString(`{"`)
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(`":`)
		b.WriteString(strings.Repeat("7", 1+r.IntN(3)))
		b.WriteString(`,"`)
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(`":"`)
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString("\"}\n")
	}
	return []byte(b.String()[:s.Size-utf8Tail(b.String()[:s.Size])])
}

// utf8Tail returns how many bytes at the end of s are an incomplete UTF-8 sequence, so a text
// payload cut at Size stays valid.
func utf8Tail(s string) int {
	for i := 1; i <= 3 && i <= len(s); i++ {
		c := s[len(s)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xc0 { // a lead byte: complete only if its sequence fits
			need := 2
			if c >= 0xe0 {
				need = 3
			}
			if c >= 0xf0 {
				need = 4
			}
			if need > i {
				return i
			}
			return 0
		}
	}
	return 0
}

// opcode returns the opcode of the scenario's messages.
func (s Scenario) opcode() frame.Opcode {
	if s.Text {
		return frame.OpText
	}
	return frame.OpBinary
}

// ClientFrame returns the complete masked frame the scenario's clients send.
func (s Scenario) ClientFrame() []byte {
	p := s.Payload()
	op := s.opcode()
	if s.Deflate {
		return Frame(op, Deflate(p), true)
	}
	return Frame(op, p, false)
}
