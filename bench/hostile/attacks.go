package hostile

import (
	"compress/flate"
	"fmt"
	"sync"
	"time"

	"github.com/wsx-go/wsx/bench/load"
)

// BombResult is what a server did with one deflate bomb.
type BombResult struct {
	Wire, Inflated    int64
	Code              int           // the status of the server's Close frame
	Took              time.Duration // from the first byte sent to the Close frame read
	HeapPeak, RSSPeak uint64        // above the server's figures before the attack
	Allocated         uint64        // bytes the server allocated during the attack
	Stat              Stat          // the server after the attack
}

// Bomb sends one compressed message that inflates to inflated bytes (zeros) to a server and
// measures the server's peak heap and RSS while it reads it.
func Bomb(s Target, inflated int64) (BombResult, error) {
	r := BombResult{Inflated: inflated}
	body := deflated(inflated)
	r.Wire = int64(len(body))
	p, base, err := connect(s, false)
	if err != nil {
		return r, err
	}
	defer p.Conn.Close()
	start := time.Now()
	go p.Write(p.Frame(0x80|Rsv1|OpBinary, body)) // the server may stop reading part-way
	code, _, err := p.ReadClose(time.Minute)
	r.Took = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("waiting for the server's Close: %w", err)
	}
	r.Code = code
	if r.Stat, err = s.Stat(false); err != nil {
		return r, err
	}
	r.HeapPeak = sub(r.Stat.HeapPeak, base.Heap)
	r.RSSPeak = sub(r.Stat.RSSPeak, base.RSS)
	r.Allocated = sub(r.Stat.Allocated, base.Allocated)
	return r, nil
}

// connect opens a compressed connection to s, then restarts the server's peaks and returns its
// Stat (after a GC when gc is set): the figures the attack's are measured from.
func connect(s Target, gc bool) (*Peer, Stat, error) {
	p, err := DialCompressed(s.Address())
	if err != nil {
		return nil, Stat{}, err
	}
	err = s.Reset()
	var base Stat
	if err == nil {
		base, err = s.Stat(gc)
	}
	if err != nil {
		p.Conn.Close()
		return nil, Stat{}, err
	}
	return p, base, nil
}

// StallResult is what one stalled message held in a server, before and after its
// StallTimeout.
type StallResult struct {
	Wire, Inflated  int64
	Held, HeldAfter uint64 // live heap (RSS if unknown) above the server's before the attack
	Code            int    // the status of the server's Close frame
	After           time.Duration
}

// Stall sends the first frame of a compressed message, inflating to inflated bytes, and then
// nothing, to a server whose StallTimeout is stall: it measures what the server holds while it
// waits, and after it gives up.
func Stall(s Target, inflated int64, stall time.Duration) (StallResult, error) {
	r := StallResult{Inflated: inflated}
	body := deflated(inflated)
	r.Wire = int64(len(body))
	p, base, err := connect(s, true)
	if err != nil {
		return r, err
	}
	defer p.Conn.Close()
	if err := p.Write(p.Frame(Rsv1|OpBinary, body)); err != nil { // not final: more is owed
		return r, err
	}
	sent := time.Now()
	// Wait for the server to have inflated it (it grows its holding as it goes).
	var st Stat
	for time.Since(sent) < stall*9/10 {
		time.Sleep(50 * time.Millisecond)
		if st, err = s.Stat(true); err != nil {
			return r, err
		}
		if sub(st.held(), base.held()) >= uint64(inflated) {
			break
		}
	}
	r.Held = sub(st.held(), base.held())
	code, _, err := p.ReadClose(stall + time.Minute)
	r.After = time.Since(sent)
	if err != nil {
		return r, fmt.Errorf("waiting for the server's Close: %w", err)
	}
	r.Code = code
	// A failed connection reads what the peer still sends for a moment (up to a second)
	// before it ends: measure once the handler has returned.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, err = s.Stat(true); err != nil {
			return r, err
		}
		if st.Open == 0 || time.Now().After(deadline) {
			break
		}
	}
	if st.Open == 0 { // once more: the handler may have ended after the GC that Stat ran
		if st, err = s.Stat(true); err != nil {
			return r, err
		}
	}
	r.HeldAfter = sub(st.held(), base.held())
	if st.Open != 0 {
		return r, fmt.Errorf("the connection is still open %v after the server's Close", time.Since(sent)-r.After)
	}
	return r, nil
}

// StalledResult is what many stalled compressed connections cost a server.
type StalledResult struct {
	Conns           int
	Inflated        int64 // what each connection's first frame inflates to
	Idle            uint64
	IdlePerConn     uint64        // RSS per connection after the handshakes, before the attack
	Settled         time.Duration // from the first message sent to a server that does nothing more
	HeapPeak        uint64        // above the server's before the handshakes
	RSS, RSSPeak    uint64        // above the server's before the handshakes: while the messages stall
	Live            uint64        // live heap above the server's before the handshakes
	Holding         int64         // connections still open with a stalled message
	Refused         int64         // connections the server failed with 1013 (budget exhausted)
	RSSAfter        uint64        // after StallTimeout: what is left
	EndedAfterStall map[int]int64
}

// Stalled opens conns compressed connections to a server whose StallTimeout is stall, each
// sending the first frame of a message inflating to inflated bytes and then nothing, and
// measures the server's RSS while they stall and after its StallTimeout.
func Stalled(s Target, conns int, inflated int64, stall time.Duration) (StalledResult, error) {
	load.RaiseFileLimit()
	r := StalledResult{Conns: conns, Inflated: inflated}
	body := deflated(inflated)
	if err := s.Reset(); err != nil {
		return r, err
	}
	base, err := s.Stat(true)
	if err != nil {
		return r, err
	}
	peers := make([]*Peer, 0, conns)
	defer func() {
		for _, p := range peers {
			p.Conn.Close()
		}
	}()
	for range conns {
		p, err := DialCompressed(s.Address())
		if err != nil {
			return r, fmt.Errorf("connection %d: %w", len(peers)+1, err)
		}
		peers = append(peers, p)
	}
	time.Sleep(500 * time.Millisecond)
	st, err := s.Stat(true)
	if err != nil {
		return r, err
	}
	r.Idle = sub(st.RSS, base.RSS)
	r.IdlePerConn = r.Idle / uint64(conns)

	sent := time.Now()
	for _, p := range peers {
		if err := p.Write(p.Frame(Rsv1|OpBinary, body)); err != nil {
			return r, err
		}
	}
	// Wait for the server to settle: every message inflated, or its connection failed, and
	// the server idle.
	if st, err = settle(s, stall*8/10); err != nil {
		return r, err
	}
	r.Settled = time.Since(sent)
	r.HeapPeak = sub(st.HeapPeak, base.Heap)
	if st, err = s.Stat(true); err != nil {
		return r, err
	}
	r.RSS, r.RSSPeak, r.Live = sub(st.RSS, base.RSS), sub(st.RSSPeak, base.RSS), sub(st.Live, base.Live)
	r.Holding, r.Refused = st.Open, st.Ended[1013]

	// After StallTimeout every stalled connection has failed.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, p := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			p.ReadClose(stall + time.Minute)
			<-sem
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // the failed connections' drain
	if st, err = s.Stat(true); err != nil {
		return r, err
	}
	r.RSSAfter = sub(st.RSS, base.RSS)
	r.EndedAfterStall = st.Ended
	return r, nil
}

// PinResult is what a server keeps after messages completed.
type PinResult struct {
	Conns    int
	Inflated int64
	Wire     int64  // bytes each connection sent
	Live     uint64 // live heap (RSS if unknown) above the server's before, once every message was echoed
}

// Pin sends one whole compressed message inflating to inflated bytes on each of conns
// connections, reads the echo and then stays idle: it measures what the server still holds.
// The README's read loop keeps whatever buffer a message grew, outside the message memory
// limit, which counts only messages being received.
func Pin(s Target, conns int, inflated int64) (PinResult, error) {
	load.RaiseFileLimit()
	r := PinResult{Conns: conns, Inflated: inflated}
	body := deflated(inflated)
	r.Wire = int64(len(body))
	if err := s.Reset(); err != nil {
		return r, err
	}
	base, err := s.Stat(true)
	if err != nil {
		return r, err
	}
	for range conns {
		p, err := DialCompressed(s.Address())
		if err != nil {
			return r, err
		}
		defer p.Conn.Close()
		if err := p.Write(p.Frame(0x80|Rsv1|OpBinary, body)); err != nil {
			return r, err
		}
		p.Conn.SetReadDeadline(time.Now().Add(time.Minute))
		if op, _, err := p.ReadFrame(); err != nil || op != OpBinary {
			return r, fmt.Errorf("echo: opcode %d, %v", op, err)
		}
	}
	st, err := s.Stat(true)
	if err != nil {
		return r, err
	}
	r.Live = sub(st.held(), base.held())
	return r, nil
}

// settle waits until the server has used less than a tenth of a core for half a second, or
// for max, and returns its Stat.
func settle(s Target, max time.Duration) (Stat, error) {
	st, err := s.Stat(false)
	for start := time.Now(); err == nil && time.Since(start) < max; {
		time.Sleep(500 * time.Millisecond)
		prev := st
		if st, err = s.Stat(false); err == nil && st.CPU-prev.CPU < 50*time.Millisecond {
			break
		}
	}
	return st, err
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// deflated is Deflated at the best compression, computed once per size.
func deflated(n int64) []byte {
	bombs.Lock()
	defer bombs.Unlock()
	if b, ok := bombs.m[n]; ok {
		return b
	}
	if bombs.m == nil {
		bombs.m = map[int64][]byte{}
	}
	b := Deflated(n, flate.BestCompression)
	bombs.m[n] = b
	return b
}

var bombs struct {
	sync.Mutex
	m map[int64][]byte
}
