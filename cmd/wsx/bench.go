package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsx-go/wsx"
)

const benchUsage = `Usage: wsx bench [flags] URL

Load-tests the echo server at URL: opens --conns connections, sends messages of --size bytes
on each and times each reply, which must be the same message (wsx serve echoes). By default
each connection keeps --inflight messages on the way and sends the next as soon as a reply
arrives (closed loop); with --rate, messages leave on a fixed schedule whatever the replies
do (open loop), and latency is measured from the scheduled time, so that a stalled server
shows up in the percentiles instead of slowing the load down. --rate R for --duration D
sends R x D messages.

A progress line is shown on stderr every second when it is a terminal (redrawn in place), or
with --progress (a line each). At the end come throughput, latency percentiles and a
histogram on stdout, or with --json one JSON object: the settings, "messages" (sent,
received, lost, bad), "errors", "throughput" (msgs_per_s, bytes_per_s), "latency_us" (min,
p50, p90, p99, p999, max, mean), "histogram" (rows of low_us, high_us, count) and
"handshake_us" (p50, max).

The messages are "wsx bench " repeated: with --compression they shrink a lot, as JSON does.

Exit status: 0 every message came back; 1 a connection failed, a message was lost or a reply
was not the message sent; 2 usage error.

Examples:
  wsx bench ws://127.0.0.1:8080/                       # 10 connections, 16 B, 1 in flight, 10s
  wsx bench -c 100 --size 1KiB --inflight 8 -d 30s ws://127.0.0.1:8080/
  wsx bench -c 50 --rate 20000 --size 4KiB wss://example.com/echo   # 20k msg/s in total
  wsx bench -c 1 -n 1000 --text ws://127.0.0.1:8080/  # exactly 1000 text messages
  wsx bench --compression --text --size 4KiB --json ws://127.0.0.1:8080/ | jq .latency_us
  wsx bench --idle -c 0 -d 1m ws://127.0.0.1:9001/     # hold as many idle connections as possible
`

// benchConfig is what the flags of wsx bench select.
type benchConfig struct {
	conns    int
	size     int64
	rate     float64
	inflight int
	duration time.Duration
	messages int
	text     bool
	progress bool
	json     bool
	timeout  time.Duration
	idle     bool
	dial     connectConfig // -H, -s, --insecure, --origin: the same as wsx connect's
}

func runBench(ctx context.Context, e *env, args []string) int {
	f := newFlags("bench", benchUsage)
	cfg := benchConfig{size: 16}
	f.IntVar(&cfg.conns, "conns", 10, "`number` of connections")
	f.IntVar(&cfg.conns, "c", 10, "short for --conns")
	f.Var((*sizeFlag)(&cfg.size), "size", "message `size`, such as 16, 1KiB or 1MiB")
	f.Float64Var(&cfg.rate, "rate", 0, "send `n` messages per second in total, on a schedule (0: closed loop)")
	f.IntVar(&cfg.inflight, "inflight", 1, "keep `n` messages on the way per connection; with --rate, 1024 unless set")
	f.DurationVar(&cfg.duration, "duration", 10*time.Second, "send for `duration`")
	f.DurationVar(&cfg.duration, "d", 10*time.Second, "short for --duration")
	f.IntVar(&cfg.messages, "messages", 0, "stop after `n` messages per connection (0: no limit)")
	f.IntVar(&cfg.messages, "n", 0, "short for --messages")
	f.BoolVar(&cfg.text, "text", false, "send text messages instead of binary ones")
	f.BoolVar(&cfg.progress, "progress", e.stderrTerminal, "show a progress line every second on stderr")
	f.BoolVar(&cfg.json, "json", false, "print the results as one JSON object")
	f.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "give up on an opening handshake after `duration`")
	f.BoolVar(&cfg.idle, "idle", false, "hold the connections idle for --duration after one echo each, and report the server's\nmemory per connection when it runs on this machine (--conns 0: as many as the file limit allows)")
	cfg.dial.addDialFlags(f, true)
	pos, status, ok := f.parse(e, args)
	if !ok {
		return status
	}
	inflightSet := false
	f.Visit(func(fl *flag.Flag) { inflightSet = inflightSet || fl.Name == "inflight" })
	if cfg.rate > 0 && !inflightSet {
		cfg.inflight = 1024
	}
	switch {
	case len(pos) != 1:
		return f.usageError(e, "want exactly one URL, got %d arguments", len(pos))
	case cfg.conns < 1 && !(cfg.idle && cfg.conns == 0):
		return f.usageError(e, "--conns must be at least 1")
	case cfg.inflight < 1:
		return f.usageError(e, "--inflight must be at least 1")
	case cfg.rate < 0 || cfg.messages < 0 || cfg.duration <= 0:
		return f.usageError(e, "--rate and --messages cannot be negative, and --duration must be positive")
	case cfg.size > 1<<30:
		return f.usageError(e, "--size is larger than 1GiB")
	}
	cfg.dial.readLimit = cfg.size // a reply larger than what was sent is not an echo
	if cfg.size == 0 {
		cfg.dial.readLimit = 1
	}
	t, err := cfg.dial.target(pos[0])
	if err != nil {
		return f.usageError(e, "%v", err)
	}
	b := &bench{cfg: &cfg, e: e, url: t.display, target: t}
	if cfg.idle {
		return b.runIdle(ctx)
	}
	return b.run(ctx)
}

// bench is one run of wsx bench.
type bench struct {
	cfg    *benchConfig
	e      *env
	url    string
	target *target

	// Totals over all connections, for the progress line.
	sent, recv atomic.Int64
	latencySum atomic.Int64 // nanoseconds
	latencyMax atomic.Int64 // nanoseconds, since the last progress line
	failures   atomic.Int64 // connections that ended early
}

// benchConn is one connection of the run. Its writer takes a slot, one of --inflight, and
// puts the time of the message into stamps before sending it; its reader takes the stamps
// out in order, as an echo keeps the order, and frees the slot.
type benchConn struct {
	c      *wsx.Conn
	slots  chan struct{}
	stamps chan time.Time
	dead   chan struct{} // closed when the reader stops
	sent   atomic.Int64
	recv   atomic.Int64

	// Owned by the reader.
	hist       histogram
	mismatched int64 // replies that were not the message sent
	unexpected int64 // messages that came with nothing outstanding
	readErr    error // what ended the connection early, if anything

	writeErr error // owned by the writer
}

func (bc *benchConn) err() error {
	if bc.writeErr != nil {
		return bc.writeErr
	}
	return bc.readErr
}

// plural returns "n thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

func (b *bench) run(ctx context.Context) int {
	cfg := b.cfg
	typ := "binary"
	if cfg.text {
		typ = "text"
	}
	mode := fmt.Sprintf("%d in flight each", cfg.inflight)
	if cfg.rate > 0 {
		mode = fmt.Sprintf("%g msg/s in total, at most %d in flight each", cfg.rate, cfg.inflight)
	}
	limit := "for " + cfg.duration.String()
	if cfg.messages > 0 {
		limit = fmt.Sprintf("%d messages each, at most %v", cfg.messages, cfg.duration)
	}
	if !cfg.json {
		fmt.Fprintf(b.e.stdout, "wsx bench %s: %s, %s %s messages, %s, %s\n",
			b.url, plural(cfg.conns, "connection"), formatSize(cfg.size), typ, mode, limit)
	}

	conns, dials := b.dialAll(ctx)
	if len(conns) == 0 {
		if cfg.json {
			b.printJSON(&benchResult{Connected: 0, FailedConnections: dials.failed})
		}
		return exitFail
	}
	payload := bytes.Repeat([]byte("wsx bench "), int(cfg.size)/10+1)[:cfg.size]
	msgType := wsx.MessageBinary
	if cfg.text {
		msgType = wsx.MessageText
	}

	start := time.Now()
	end := start.Add(cfg.duration)
	// A closed loop sends until the end; an open one sends the messages due before the end,
	// even late ones when the machine lags behind the schedule, up to a grace period.
	stopAt := end
	if cfg.rate > 0 {
		stopAt = end.Add(rateGrace)
	}
	runCtx, stop := context.WithDeadline(ctx, stopAt)
	defer stop()
	var writers, readers sync.WaitGroup
	perConn := cfg.rate / float64(len(conns))
	for i, bc := range conns {
		readers.Go(func() { b.readLoop(bc, payload) })
		writers.Go(func() {
			// Stagger the schedules so that the connections do not send in bursts together.
			offset := time.Duration(0)
			if perConn > 0 {
				offset = time.Duration(float64(time.Second) / perConn * float64(i) / float64(len(conns)))
			}
			b.writeLoop(runCtx, bc, msgType, payload, perConn, start.Add(offset), end)
		})
	}
	progressDone := make(chan struct{})
	var progress sync.WaitGroup
	if cfg.progress {
		progress.Go(func() { b.showProgress(start, progressDone) })
	}
	writers.Wait()
	sendTime := time.Since(start)
	b.drain(conns)
	elapsed := time.Since(start)
	close(progressDone)
	progress.Wait()

	var closing sync.WaitGroup
	for _, bc := range conns {
		closing.Go(func() { bc.c.Close(wsx.StatusNormalClosure, "") })
	}
	closing.Wait()
	readers.Wait()
	return b.report(conns, dials, sendTime, elapsed)
}

// rateGrace is how late, past the end of the run, a message due before it may still be
// sent with --rate.
const rateGrace = 2 * time.Second

// dialStats is how the connections of a run were opened.
type dialStats struct {
	failed     int
	handshakes histogram
	took       time.Duration
}

// dialAll opens the connections, at most 32 handshakes at a time, and reports how it went.
func (b *bench) dialAll(ctx context.Context) ([]*benchConn, *dialStats) {
	cfg := b.cfg
	var mu sync.Mutex
	var conns []*benchConn
	st := &dialStats{}
	var firstErr error
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, cfg.timeout)
			defer cancel()
			t := time.Now()
			c, _, err := wsx.Dial(dctx, b.target.url, b.target.opts)
			d := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st.failed++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			st.handshakes.record(d)
			conns = append(conns, &benchConn{c: c, slots: make(chan struct{}, cfg.inflight),
				stamps: make(chan time.Time, cfg.inflight), dead: make(chan struct{})})
		})
	}
	wg.Wait()
	st.took = time.Since(start)
	if !cfg.json {
		line := fmt.Sprintf("connected %d/%d in %s", len(conns), cfg.conns, formatDuration(st.took))
		if len(conns) > 0 {
			line += fmt.Sprintf(" (handshake p50 %s, max %s)", formatDuration(st.handshakes.quantile(0.5)), formatDuration(st.handshakes.max))
		}
		fmt.Fprintln(b.e.stdout, line)
	}
	if st.failed > 0 {
		fmt.Fprintf(b.e.stderr, "wsx bench: %s failed; the first: %s\n", plural(st.failed, "connection"), errText(firstErr))
	}
	return conns, st
}

// writeLoop sends messages until ctx ends or the message count is reached. With a rate, the
// i-th message is due at start + i/rate, its latency counts from then, and only the messages
// due before end go: R messages a second for D seconds are R x D messages.
func (b *bench) writeLoop(ctx context.Context, bc *benchConn, typ wsx.MessageType, payload []byte, rate float64, start, end time.Time) {
	for i := 0; b.cfg.messages == 0 || i < b.cfg.messages; i++ {
		var due time.Time
		if rate > 0 {
			due = start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
			if !due.Before(end) {
				return
			}
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case bc.slots <- struct{}{}:
		case <-ctx.Done():
			return
		case <-bc.dead:
			return
		}
		if rate == 0 {
			// Closed loop: the message is due when a slot frees up.
			due = time.Now()
		}
		bc.stamps <- due // never blocks: there are as many stamps as slots
		// Not bounded by ctx: a write cut short mid-frame would break the connection.
		if err := bc.c.Write(context.Background(), typ, payload); err != nil {
			bc.writeErr = err
			b.failures.Add(1)
			return
		}
		bc.sent.Add(1)
		b.sent.Add(1)
		if ctx.Err() != nil {
			return
		}
	}
}

// readLoop times the replies until the connection ends.
func (b *bench) readLoop(bc *benchConn, payload []byte) {
	defer close(bc.dead)
	buf := make([]byte, 0, len(payload))
	for {
		_, msg, err := bc.c.ReadMessage(context.Background(), buf[:0])
		if err != nil {
			if wsx.CloseStatus(err) != wsx.StatusNormalClosure {
				bc.readErr = err
				b.failures.Add(1)
			}
			return
		}
		var due time.Time
		select {
		case due = <-bc.stamps:
			<-bc.slots
		default:
			bc.unexpected++
			continue
		}
		d := time.Since(due)
		bc.hist.record(d)
		if !bytes.Equal(msg, payload) {
			bc.mismatched++
		}
		bc.recv.Add(1)
		b.recv.Add(1)
		b.latencySum.Add(int64(d))
		for m := b.latencyMax.Load(); int64(d) > m && !b.latencyMax.CompareAndSwap(m, int64(d)); m = b.latencyMax.Load() {
		}
	}
}

// drain waits up to two seconds for the replies still on the way.
func (b *bench) drain(conns []*benchConn) {
	deadline := time.Now().Add(2 * time.Second)
	for _, bc := range conns {
	wait:
		for bc.recv.Load() < bc.sent.Load() && time.Now().Before(deadline) {
			select {
			case <-bc.dead:
				break wait
			case <-time.After(time.Millisecond):
			}
		}
	}
}

// showProgress shows a line of figures on stderr every second until done is closed: the
// last second's throughput, mean and largest latency, then the totals. On a terminal it
// redraws one line, short enough not to wrap on 80 columns.
func (b *bench) showProgress(start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastRecv, lastLat int64
	last := start
	for {
		select {
		case <-done:
			if b.e.stderrTerminal {
				fmt.Fprint(b.e.stderr, "\r\033[K")
			}
			return
		case now := <-tick.C:
			recv, lat, worst := b.recv.Load(), b.latencySum.Load(), b.latencyMax.Swap(0)
			rate := float64(recv-lastRecv) / now.Sub(last).Seconds()
			mean := time.Duration(0)
			if recv > lastRecv {
				mean = time.Duration((lat - lastLat) / (recv - lastRecv))
			}
			line := fmt.Sprintf("%6.1fs %9s msg/s  mean %s  max %s  sent %s  errors %d",
				now.Sub(start).Seconds(), groupDigits(int64(rate)), formatDuration(mean), formatDuration(time.Duration(worst)),
				groupDigits(b.sent.Load()), b.failures.Load())
			if b.e.stderrTerminal {
				fmt.Fprint(b.e.stderr, "\r\033[K"+line)
			} else {
				fmt.Fprintln(b.e.stderr, line)
			}
			lastRecv, lastLat, last = recv, lat, now
		}
	}
}

// benchResult is the report of --json. Durations are in microseconds.
type benchResult struct {
	URL               string        `json:"url"`
	Conns             int           `json:"conns"`
	Size              int64         `json:"size"`
	Type              string        `json:"type"`
	Inflight          int           `json:"inflight"`
	Rate              float64       `json:"rate,omitempty"`
	Compression       bool          `json:"compression"`
	Connected         int           `json:"connected"`
	FailedConnections int           `json:"failed_connections"`
	HandshakeUS       *latencyStats `json:"handshake_us,omitempty"`
	SendSeconds       float64       `json:"send_seconds"`
	Messages          struct {
		Sent     int64 `json:"sent"`
		Received int64 `json:"received"`
		Lost     int64 `json:"lost"`
		Bad      int64 `json:"bad"` // not echoed right
	} `json:"messages"`
	Errors     []string `json:"errors"`
	Throughput struct {
		MsgsPerS  float64 `json:"msgs_per_s"`
		BytesPerS float64 `json:"bytes_per_s"`
	} `json:"throughput"`
	LatencyUS *latencyStats  `json:"latency_us,omitempty"`
	Histogram []histogramRow `json:"histogram"`
}

// latencyStats are the figures of a histogram, in microseconds.
type latencyStats struct {
	Min  float64 `json:"min,omitempty"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90,omitempty"`
	P99  float64 `json:"p99,omitempty"`
	P999 float64 `json:"p999,omitempty"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean,omitempty"`
}

type histogramRow struct {
	LowUS  float64 `json:"low_us"`
	HighUS float64 `json:"high_us"`
	Count  int64   `json:"count"`
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func (b *bench) printJSON(r *benchResult) {
	cfg := b.cfg
	r.URL, r.Conns, r.Size, r.Inflight, r.Rate, r.Compression = b.url, cfg.conns, cfg.size, cfg.inflight, cfg.rate, cfg.dial.compression
	r.Type = "binary"
	if cfg.text {
		r.Type = "text"
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
	if r.Histogram == nil {
		r.Histogram = []histogramRow{}
	}
	enc := json.NewEncoder(b.e.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(r)
}

// report prints the results and returns the exit status.
func (b *bench) report(conns []*benchConn, dials *dialStats, sendTime, elapsed time.Duration) int {
	w := b.e.stdout
	var all histogram
	var sent, recv, mismatched, unexpected int64
	var errs []error
	for _, bc := range conns {
		all.merge(&bc.hist)
		sent += bc.sent.Load()
		recv += bc.recv.Load()
		mismatched += bc.mismatched
		unexpected += bc.unexpected
		if err := bc.err(); err != nil {
			errs = append(errs, err)
		}
	}
	lost := sent - recv
	secs := sendTime.Seconds()
	status := exitOK
	if dials.failed > 0 || len(errs) > 0 || lost > 0 || mismatched > 0 || unexpected > 0 {
		status = exitFail
	}
	if b.cfg.json {
		r := &benchResult{Connected: len(conns), FailedConnections: dials.failed, SendSeconds: secs}
		r.HandshakeUS = &latencyStats{P50: micros(dials.handshakes.quantile(0.5)), Max: micros(dials.handshakes.max)}
		r.Messages.Sent, r.Messages.Received, r.Messages.Lost, r.Messages.Bad = sent, recv, lost, mismatched+unexpected
		for _, err := range errs {
			r.Errors = append(r.Errors, errText(err))
		}
		r.Throughput.MsgsPerS = float64(recv) / secs
		r.Throughput.BytesPerS = float64(recv) * float64(b.cfg.size) / secs
		if all.count > 0 {
			r.LatencyUS = &latencyStats{Min: micros(all.min), P50: micros(all.quantile(0.5)), P90: micros(all.quantile(0.9)),
				P99: micros(all.quantile(0.99)), P999: micros(all.quantile(0.999)), Max: micros(all.max), Mean: micros(all.mean())}
		}
		for _, row := range all.rows() {
			r.Histogram = append(r.Histogram, histogramRow{micros(row.low), micros(row.high), row.n})
		}
		b.printJSON(r)
		return status
	}
	fmt.Fprintf(w, "\nResults (%s sending, %s in all):\n", formatDuration(sendTime), formatDuration(elapsed))
	fmt.Fprintf(w, "  messages    %s sent, %s received, %s lost, %s not echoed right, %d connection errors\n",
		groupDigits(sent), groupDigits(recv), groupDigits(lost), groupDigits(mismatched+unexpected), len(errs)+dials.failed)
	fmt.Fprintf(w, "  throughput  %s msg/s, %s/s each way\n", groupDigits(int64(float64(recv)/secs)), formatRate(float64(recv)*float64(b.cfg.size)/secs))
	if all.count > 0 {
		fmt.Fprintf(w, "  latency     min %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
			formatDuration(all.min), formatDuration(all.quantile(0.5)), formatDuration(all.quantile(0.9)),
			formatDuration(all.quantile(0.99)), formatDuration(all.quantile(0.999)), formatDuration(all.max), formatDuration(all.mean()))
		fmt.Fprintln(w)
		all.print(w)
	}
	if len(errs) > 0 {
		fmt.Fprintf(b.e.stderr, "wsx bench: %s ended early; the first: %s\n", plural(len(errs), "connection"), errText(errs[0]))
	}
	return status
}

// groupDigits prints n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formatRate prints bytes per second in decimal units, as network throughput is.
func formatRate(bps float64) string {
	for _, u := range []struct {
		div  float64
		name string
	}{{1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if bps >= u.div {
			return fmt.Sprintf("%.2f %s", bps/u.div, u.name)
		}
	}
	return fmt.Sprintf("%.0f B", bps)
}

// histogram counts durations in log-linear buckets: 16 per power of two, so that a quantile
// is within 1/16 (6%) of the true value, in a fixed 8 KiB whatever the range. It also counts
// them exactly in the rows of the 1-2-5 series it prints.
type histogram struct {
	counts   [64 << subBits]int64
	perRow   [len(series125)]int64
	count    int64
	sum      time.Duration
	min, max time.Duration
}

const subBits = 4

// bucketOf returns the bucket of v nanoseconds: v itself below 16, then 16 buckets for each
// power of two.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [16, 32)
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketLow returns the smallest value of bucket i.
func bucketLow(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	return uint64(i&(1<<subBits-1)+1<<subBits) << shift
}

// series125 is the 1-2-5 series of durations, 1ns, 2ns, 5ns, 10ns... up to the largest
// duration: the edges of the histogram's rows.
var series125 = func() (s [57]time.Duration) {
	for i, p := 0, time.Duration(1); i < len(s); i, p = i+3, p*10 {
		s[i] = p
		if i+1 < len(s) {
			s[i+1], s[i+2] = 2*p, 5*p
		}
	}
	return s
}()

// rowOf returns the row of d: the step of series125 at or below it (the first for 0).
func rowOf(d time.Duration) int {
	i, found := slices.BinarySearch(series125[:], d)
	if !found {
		i--
	}
	return max(i, 0)
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.perRow[rowOf(d)]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.count++
	h.sum += d
}

func (h *histogram) merge(o *histogram) {
	if o.count == 0 {
		return
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	for i, n := range o.perRow {
		h.perRow[i] += n
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.count += o.count
	h.sum += o.sum
}

func (h *histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return h.sum / time.Duration(h.count)
}

// quantile returns the duration below which a fraction q of the values fall: the middle of
// the bucket that holds the q-th value, clamped to the observed range.
func (h *histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := int64(q*float64(h.count) + 0.5)
	rank = min(max(rank, 1), h.count)
	var seen int64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			mid := time.Duration((bucketLow(i) + bucketLow(i+1) - 1) / 2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}

// histRow is a row of the printed histogram: the values in [low, high).
type histRow struct {
	low, high time.Duration
	n         int64
}

// rows returns the rows from the smallest value's to the largest's.
func (h *histogram) rows() []histRow {
	if h.count == 0 {
		return nil
	}
	first, last := rowOf(h.min), rowOf(h.max)
	rows := make([]histRow, 0, last-first+1)
	for i := first; i <= last; i++ {
		high := time.Duration(math.MaxInt64)
		if i+1 < len(series125) {
			high = series125[i+1]
		}
		rows = append(rows, histRow{series125[i], high, h.perRow[i]})
	}
	return rows
}

// print draws the histogram with a row per step of the 1-2-5 series (10µs, 20µs, 50µs,
// 100µs...) between the smallest and the largest value.
func (h *histogram) print(w io.Writer) {
	rows := h.rows()
	var most int64
	for _, r := range rows {
		most = max(most, r.n)
	}
	const width = 40
	for _, r := range rows {
		n := int(r.n * width / most)
		bar := strings.Repeat("█", n)
		if r.n > 0 && n == 0 {
			bar, n = "▏", 1 // no row with values looks empty
		}
		fmt.Fprintf(w, "  %7s - %-7s %s%s %5.1f%%\n", formatDuration(r.low), formatDuration(r.high),
			bar, strings.Repeat(" ", width-n), float64(r.n)*100/float64(h.count))
	}
}
