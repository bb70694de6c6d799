package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/hub"
	"github.com/wsx-go/wsx/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// startNATS runs a NATS server in this process on a loopback port (0: any) and returns it.
func startNATS(t testing.TB, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect returns a NATS connection as a hub needs it, reconnecting quickly for the tests.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.NoEcho(), nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond),
		nats.ReconnectJitter(0, 0)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// newHub returns a Hub on a Broker of nc, serving WebSockets: a client of the returned URL
// with ?topic=T is subscribed to T (it receives "subscribed" first), and what it sends is
// published on T.
func newHub(t testing.TB, nc *nats.Conn) (*hub.Hub, string) {
	t.Helper()
	b, err := New(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(&hub.Options{Broker: b})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		defer h.Leave(c)
		topic := r.URL.Query().Get("topic")
		if err := h.Subscribe(r.Context(), c, topic); err != nil {
			c.Close(wsx.StatusInternalError, err.Error())
			return
		}
		c.Write(r.Context(), wsx.MessageText, []byte("subscribed"))
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			h.Publish(r.Context(), topic, typ, p)
		}
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		srv.Close()
	})
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// subscribe connects a client subscribed to topic.
func subscribe(t testing.TB, url, topic string) *wsx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := wsx.Dial(ctx, url+"?topic="+neturl.QueryEscape(topic), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if _, p, err := c.Read(ctx); err != nil || string(p) != "subscribed" {
		t.Fatalf("subscribing to %q: %q, %v", topic, p, err)
	}
	return c
}

func read(t testing.TB, c *wsx.Conn) (wsx.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(p)
}

func expectNothing(t testing.TB, c *wsx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if typ, p, err := c.Read(ctx); err == nil {
		t.Fatalf("unexpected %v message %q", typ, p)
	}
}

// Two hubs on one NATS deliver each other's messages, each once, with their types; what one
// hub publishes on a topic arrives everywhere in the order published.
func TestTwoHubs(t *testing.T) {
	url := startNATS(t, 0).ClientURL()
	_, u1 := newHub(t, connect(t, url))
	h2, u2 := newHub(t, connect(t, url))
	a1, a2 := subscribe(t, u1, "room"), subscribe(t, u2, "room")
	other := subscribe(t, u2, "other")

	ctx := context.Background()
	a1.Write(ctx, wsx.MessageText, []byte("from a client of hub 1"))
	for _, c := range []*wsx.Conn{a1, a2} {
		if typ, p := read(t, c); typ != wsx.MessageText || p != "from a client of hub 1" {
			t.Fatalf("got %v %q", typ, p)
		}
	}
	const n = 1000
	for i := range n {
		if err := h2.Publish(ctx, "room", wsx.MessageBinary, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	h2.Publish(ctx, "room", wsx.MessageText, []byte("last"), wsx.Uncompressed)
	for _, c := range []*wsx.Conn{a1, a2} {
		for i := range n {
			if typ, p := read(t, c); typ != wsx.MessageBinary || p != fmt.Sprint(i) {
				t.Fatalf("got %v %q, want %d", typ, p, i)
			}
		}
		if _, p := read(t, c); p != "last" {
			t.Fatalf("got %q", p)
		}
		expectNothing(t, c) // nothing twice
	}
	expectNothing(t, other)
}

// Topics that are not plain NATS subjects travel encoded: a topic "*" or ">" is no wildcard,
// and "a b" or "x.y" reaches its own subscribers only.
func TestTopicSubjects(t *testing.T) {
	url := startNATS(t, 0).ClientURL()
	h1, _ := newHub(t, connect(t, url))
	_, u2 := newHub(t, connect(t, url))
	topics := []string{"*", ">", "a b", "x.y", "x", "~x", "a..b", "é"}
	clients := map[string]*wsx.Conn{}
	for _, topic := range topics {
		clients[topic] = subscribe(t, u2, topic)
	}
	for _, topic := range topics {
		if err := h1.Publish(context.Background(), topic, wsx.MessageText, []byte("on "+topic)); err != nil {
			t.Fatal(err)
		}
	}
	for _, topic := range topics {
		if _, p := read(t, clients[topic]); p != "on "+topic {
			t.Fatalf("subscriber of %q got %q", topic, p)
		}
		expectNothing(t, clients[topic])
	}
	b, _ := New(connect(t, url), "app")
	for topic, want := range map[string]string{"chat.room-1": "app.chat.room-1", "a b": "app.~YSBi", "~x": "app.~fng", "*": "app.~Kg"} {
		if got := b.subject(topic); got != want {
			t.Errorf("subject(%q) = %q, want %q", topic, got, want)
		}
	}
}

// A payload that no Broker made (foreign publishers share the NATS) is dropped.
func TestForeignPayloadDropped(t *testing.T) {
	url := startNATS(t, 0).ClientURL()
	_, u := newHub(t, connect(t, url))
	c := subscribe(t, u, "t")
	raw := connect(t, url)
	for _, p := range []string{"", "\x80bad flags", "\x00ok"} {
		raw.Publish("wsx.t", []byte(p))
	}
	raw.Flush()
	if typ, p := read(t, c); typ != wsx.MessageText || p != "ok" {
		t.Fatalf("got %v %q", typ, p)
	}
	expectNothing(t, c)
}

// New refuses a connection that would echo a hub's messages back to it, and a bad prefix.
func TestNewChecks(t *testing.T) {
	url := startNATS(t, 0).ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := New(nc, ""); err == nil || !strings.HasPrefix(err.Error(), "wsx: ") {
		t.Errorf("a connection without NoEcho: %v", err)
	}
	if _, err := New(connect(t, url), "a.*"); err == nil {
		t.Error("a wildcard prefix accepted")
	}
}

// collect reads c's messages, numbers, until "end", and counts them as they come.
func collect(c *wsx.Conn, count *atomic.Int64) <-chan []int {
	ch := make(chan []int, 1)
	go func() {
		var seqs []int
		defer func() { ch <- seqs }()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for {
			_, p, err := c.Read(ctx)
			if err != nil || string(p) == "end" {
				return
			}
			n, _ := strconv.Atoi(string(p))
			seqs = append(seqs, n)
			count.Add(1)
		}
	}()
	return ch
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The NATS server restarts while one hub publishes a steady stream. The publishing hub's own
// subscriber gets every message at once; the other hub's subscriber gets, in order and none
// twice, every message published before the outage and after both hubs are back; of those
// published during the outage it loses one run: those in flight when the server went away,
// and those that reached the restarted server before its subscription was back.
func TestNATSRestartUnderLoad(t *testing.T) {
	s := startNATS(t, 0)
	port := s.Addr().(*net.TCPAddr).Port
	nc1, nc2 := connect(t, s.ClientURL()), connect(t, s.ClientURL())
	h1, u1 := newHub(t, nc1)
	_, u2 := newHub(t, nc2)
	var localCount, remoteCount atomic.Int64
	local := collect(subscribe(t, u1, "t"), &localCount)
	remote := collect(subscribe(t, u2, "t"), &remoteCount)

	ctx := context.Background()
	seq := 0
	publish := func() {
		if err := h1.Publish(ctx, "t", wsx.MessageBinary, []byte(strconv.Itoa(seq))); err != nil {
			t.Errorf("publish %d: %v", seq, err)
		}
		seq++
	}
	const before, after = 500, 500
	for range before {
		publish()
	}
	waitFor(t, "the messages before the outage", func() bool { return remoteCount.Load() == before })

	// Under load: a message every 200 µs for 600 ms; NATS is down from 100 ms to about 300 ms.
	restarted := make(chan *server.Server)
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.Shutdown()
		s.WaitForShutdown()
		time.Sleep(200 * time.Millisecond)
		restarted <- startNATS(t, port)
	}()
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; time.Sleep(200 * time.Microsecond) {
		publish()
	}
	during := seq - before
	<-restarted
	waitFor(t, "both hubs to reconnect", func() bool {
		return nc1.Status() == nats.CONNECTED && nc2.Status() == nats.CONNECTED
	})
	if err := nc2.Flush(); err != nil { // the subscription is back on the server
		t.Fatal(err)
	}
	first := seq
	for range after {
		publish()
	}
	h1.Publish(ctx, "t", wsx.MessageText, []byte("end"))

	got := <-local
	if len(got) != seq {
		t.Fatalf("the publishing hub's subscriber got %d of %d messages", len(got), seq)
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("local message %d is %d", i, n)
		}
	}
	got = <-remote
	seen := map[int]bool{}
	for i, n := range got {
		if i > 0 && n <= got[i-1] {
			t.Fatalf("remote: %d after %d: out of order or twice", n, got[i-1])
		}
		seen[n] = true
	}
	missing := 0
	var lost []string // runs of lost messages, numbered from the start of the outage
	for n := range seq {
		if !seen[n] {
			if n < before || n >= first {
				t.Fatalf("remote: message %d, published while both hubs were connected, is lost", n)
			}
			if missing == 0 || seen[n-1] {
				lost = append(lost, strconv.Itoa(n-before))
			}
			lost[len(lost)-1] = strings.Split(lost[len(lost)-1], "-")[0] + "-" + strconv.Itoa(n-before)
			missing++
		}
	}
	t.Logf("published %d before, %d during and %d after the outage; the other hub lost %d of those during it (%v)",
		before, during, after, missing, lost)
	if len(lost) > 1 {
		t.Fatalf("remote: the lost messages are not one run: %v", lost)
	}
}

// While NATS is unreachable a hub's Publish buffers up to nats.ReconnectBufSize and then
// fails with nats.ErrReconnectBufExceeded; its own subscribers get every message all the same.
func TestPublishWhileUnreachable(t *testing.T) {
	s := startNATS(t, 0)
	nc := connect(t, s.ClientURL(), nats.ReconnectBufSize(1024))
	h, u := newHub(t, nc)
	var count atomic.Int64
	local := collect(subscribe(t, u, "t"), &count)
	s.Shutdown()
	waitFor(t, "the client to notice", nc.IsReconnecting)
	failed := 0
	for i := range 100 {
		err := h.Publish(context.Background(), "t", wsx.MessageBinary, []byte(fmt.Sprintf("%03d%s", i, strings.Repeat(".", 97))))
		if errors.Is(err, nats.ErrReconnectBufExceeded) {
			failed++
		} else if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	h.Publish(context.Background(), "t", wsx.MessageText, []byte("end"))
	if got := <-local; len(got) != 100 {
		t.Fatalf("local subscriber got %d of 100 messages", len(got))
	}
	if failed < 80 || failed > 95 {
		t.Fatalf("%d of 100 publishes of 100+ bytes failed with a 1 KiB reconnect buffer", failed)
	}
}

// A message's type and Uncompressed travel in the flags byte.
func TestFlags(t *testing.T) {
	for _, m := range []hub.Message{{Type: wsx.MessageText}, {Type: wsx.MessageBinary}, {Type: wsx.MessageText, Uncompressed: true}, {Type: wsx.MessageBinary, Uncompressed: true}} {
		typ, uncompressed, ok := decodeFlags([]byte{flags(m)})
		if !ok || typ != m.Type || uncompressed != m.Uncompressed {
			t.Errorf("%+v came back as %v, %v, %v", m, typ, uncompressed, ok)
		}
	}
}
