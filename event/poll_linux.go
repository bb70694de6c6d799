package event

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The epoll driver. Each worker is a goroutine with an epoll set of its own, holding its
// connections' sockets, edge-triggered. A worker waits for its epoll set the way a goroutine
// waits for a socket: the epoll descriptor is itself registered with Go's poller
// (os.NewFile), so a worker with nothing to do is a parked goroutine, not a thread blocked in
// epoll_wait, and GOMAXPROCS=1 serves it as well as any. Its timers are the read deadline of
// that file, and other goroutines wake it by moving the deadline into the past.
//
// Sockets are accepted with accept4 on the listener's descriptor, so a connection has no
// net.Conn: its descriptor, its Conn and a slot in a table from descriptors to Conns are all
// it holds while idle. Only the owning worker closes a descriptor, under Conn.mu, so that
// nobody else ever reads or writes a descriptor number that a newer connection took over.

// loops are a Server's epoll workers.
type loops struct {
	srv     *Server
	workers []*worker
	table   fdTable
	stopped atomic.Bool
}

// Events every socket is registered for: input, room for output, the peer's half-close;
// edge-triggered, so each change is reported once.
const socketEvents = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | 1<<31 // EPOLLET

// A worker reads at most this much from one connection before it serves the others.
const readBudget = 1 << 20

// worker runs the events of the connections in its epoll set.
type worker struct {
	l      *loops
	epfd   int
	file   *os.File // epfd, registered with Go's poller
	rc     syscall.RawConn
	waitFn func(uintptr) bool // w.wait, bound once
	events [128]syscall.EpollEvent
	n      int
	rbuf   []byte // what the worker reads into
	plain  []byte // what it decrypts TLS records into
	conns  atomic.Int32

	mu     sync.Mutex
	posted []*Conn // connections with tasks
	spare  []*Conn
	awake  atomic.Bool // the worker will look at posted before it waits again

	timed     map[*Conn]struct{} // connections waiting for something with a time bound
	nextSweep time.Time
	again     []*Conn   // connections whose input exceeded readBudget
	againNext []*Conn   // the slice again becomes while runAgain goes through it
	deadline  time.Time // the read deadline set on file
}

// newLoops starts n workers; nil means epoll is not available.
func newLoops(s *Server, n int) *loops {
	l := &loops{srv: s}
	for range n {
		w, err := newWorker(l)
		if err != nil {
			for _, w := range l.workers {
				w.file.Close()
			}
			return nil
		}
		l.workers = append(l.workers, w)
	}
	for _, w := range l.workers {
		s.wg.Add(1)
		go w.run()
	}
	return l
}

func newWorker(l *loops) (*worker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	w := &worker{l: l, epfd: epfd, file: os.NewFile(uintptr(epfd), "epoll"),
		rbuf: make([]byte, 64<<10), timed: map[*Conn]struct{}{}, deadline: aLongTimeAgo}
	w.awake.Store(true)
	if w.rc, err = w.file.SyscallConn(); err != nil {
		w.file.Close()
		return nil, err
	}
	if err := w.file.SetReadDeadline(time.Time{}); err != nil {
		w.file.Close()
		return nil, err // not registered with Go's poller
	}
	w.waitFn = w.wait
	return w, nil
}

// serve accepts on ln until it fails, handing the sockets to the workers; it reports false
// when ln has no descriptor to accept on.
//
// net does not let a listener's descriptor be waited on through its RawConn, so the acceptor
// has an epoll set of its own with the descriptor in it, and accepts inside RawConn.Control,
// which keeps the descriptor from being closed (and its number reused) meanwhile. Control
// fails once ln is closed, which the acceptor looks at least once a second.
func (l *loops) serve(ln net.Listener, errp *error) bool {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	a, err := newAcceptor(rc)
	if err != nil {
		return false
	}
	defer a.file.Close()
	l.srv.mu.Lock()
	l.srv.acceptors[a] = struct{}{}
	l.srv.mu.Unlock()
	defer func() {
		l.srv.mu.Lock()
		delete(l.srv.acceptors, a)
		l.srv.mu.Unlock()
	}()
	_, tcp := ln.(*net.TCPListener)
	var delay time.Duration
	for {
		if err := rc.Control(a.acceptFn); err != nil {
			*errp = err // ln is closed
			return true
		}
		for _, fd := range a.fds {
			l.adopt(fd, tcp)
		}
		a.fds = a.fds[:0]
		switch a.err {
		case 0, syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED:
			delay = 0
		case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
			// Out of descriptors or memory: wait for connections to end, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.srv.logf("wsx: event server: accept: %v; retrying in %v", a.err, delay)
			time.Sleep(delay)
			continue
		default:
			*errp = os.NewSyscallError("accept4", a.err)
			return true
		}
		if a.err != syscall.EAGAIN {
			continue
		}
		if l.srv.isClosing() {
			return true
		}
		a.file.SetReadDeadline(time.Now().Add(time.Second))
		if err := a.rc.Read(a.waitFn); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			*errp = err
			return true
		}
	}
}

// acceptor waits for connections on a listener's descriptor.
type acceptor struct {
	file     *os.File // an epoll set holding the listener's descriptor, registered with Go's poller
	rc       syscall.RawConn
	waitFn   func(uintptr) bool
	acceptFn func(uintptr)
	fds      []int
	err      syscall.Errno // what the last accept4 said
	events   [1]syscall.EpollEvent
}

func newAcceptor(lrc syscall.RawConn) (*acceptor, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	syscall.SetNonblock(epfd, true)
	a := &acceptor{file: os.NewFile(uintptr(epfd), "epoll")}
	var cerr error
	err = lrc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | 1<<31, Fd: int32(fd)}
		cerr = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err == nil {
		a.rc, err = a.file.SyscallConn()
	}
	if err != nil {
		a.file.Close()
		return nil, err
	}
	a.waitFn = func(fd uintptr) bool {
		n, _ := syscall.EpollWait(int(fd), a.events[:], 0)
		return n > 0
	}
	a.acceptFn = func(fd uintptr) {
		for range 256 {
			// No address: RemoteAddr looks it up when asked.
			r, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, fd, 0, 0, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
			if a.err = e; e != 0 {
				return
			}
			a.fds = append(a.fds, int(r))
		}
	}
	return a, nil
}

// adopt hands an accepted socket to its worker.
func (l *loops) adopt(fd int, tcp bool) {
	if tcp {
		// As net does for every TCP connection: frames go out when written.
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	gen, ok := l.srv.admit()
	if !ok {
		syscall.Close(fd)
		return
	}
	c := &Conn{srv: l.srv, fd: int32(fd), gen: gen}
	l.workerOf(c).conns.Add(1)
	c.post(taskAdopt)
}

func (l *loops) workerOf(c *Conn) *worker { return l.workers[int(c.fd)%len(l.workers)] }

// stop makes the workers end once their connections are released.
func (l *loops) stop() {
	l.stopped.Store(true)
	for _, w := range l.workers {
		w.file.SetReadDeadline(aLongTimeAgo)
	}
}

// each calls f with every connection in the workers' epoll sets.
func (l *loops) each(f func(*Conn)) { l.table.each(f) }

// adopt takes a new connection into its worker's epoll set; the caller is that worker.
func (c *Conn) adoptSocket() bool {
	l := c.srv.loops
	w := l.workerOf(c)
	if c.srv.isClosing() {
		return false
	}
	l.table.set(c.fd, c)
	ev := syscall.EpollEvent{Events: socketEvents, Fd: c.fd, Pad: int32(c.gen)}
	return syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev) == nil
}

// run is the worker's loop: posted tasks, input left over, timers, then the next events.
func (w *worker) run() {
	defer w.l.srv.wg.Done()
	defer w.file.Close()
	for {
		w.runPosted()
		w.runAgain()
		if len(w.timed) > 0 {
			if now := time.Now(); !now.Before(w.nextSweep) {
				w.sweep(now)
			}
		}
		if w.done() {
			return
		}
		if w.busy() {
			continue
		}
		w.setDeadline()
		// Whoever posts or stops after this sees awake false and moves the deadline, which
		// this goroutine may just have set, into the past.
		w.awake.Store(false)
		if w.busy() || w.done() {
			w.awake.Store(true)
			continue
		}
		err := w.rc.Read(w.waitFn)
		w.awake.Store(true)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				w.deadline = aLongTimeAgo // unknown: a waker may have moved it
				continue
			}
			w.l.srv.logf("wsx: event server: worker stopped: %v", err)
			return
		}
		w.handle(w.events[:w.n])
	}
}

// wait collects the events that are ready, without blocking; false makes RawConn.Read wait
// for more.
func (w *worker) wait(fd uintptr) bool {
	n, err := syscall.EpollWait(int(fd), w.events[:], 0)
	if err != nil {
		n = 0 // EINTR: look again
	}
	w.n = n
	return n > 0
}

// done reports whether the worker is to end: its Server is closed and it has no connection
// left.
func (w *worker) done() bool {
	return w.l.stopped.Load() && w.conns.Load() == 0 && !w.busy()
}

// busy reports whether the worker has work without waiting for events.
func (w *worker) busy() bool {
	w.mu.Lock()
	posted := len(w.posted) > 0
	w.mu.Unlock()
	return posted || len(w.again) > 0
}

// setDeadline sets the file's read deadline to the next sweep of the timed connections.
func (w *worker) setDeadline() {
	var want time.Time
	if len(w.timed) > 0 {
		want = w.nextSweep
	}
	if !want.Equal(w.deadline) {
		w.file.SetReadDeadline(want)
		w.deadline = want
	}
}

// enqueue hands c to the worker to run its tasks, waking the worker if it waits.
func (w *worker) enqueue(c *Conn) {
	w.mu.Lock()
	w.posted = append(w.posted, c)
	w.mu.Unlock()
	if !w.awake.Load() {
		w.file.SetReadDeadline(aLongTimeAgo)
	}
}

func (w *worker) runPosted() {
	w.mu.Lock()
	posted := w.posted
	w.posted, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	for i, c := range posted {
		c.runTasks()
		posted[i] = nil
	}
	w.mu.Lock()
	w.spare = posted[:0]
	w.mu.Unlock()
}

func (w *worker) runAgain() {
	// Two slices take turns, so that connections with more input than one round reads (large
	// messages) cost no allocation per round.
	again := w.again
	w.again = w.againNext[:0]
	for _, c := range again {
		if c.phase != phReleased {
			w.readable(c, 0)
		}
	}
	clear(again)
	w.againNext = again[:0]
}

// sweep acts on the timed connections' waits that are over.
func (w *worker) sweep(now time.Time) {
	for c := range w.timed {
		if !c.expire(now) {
			delete(w.timed, c)
		}
	}
	w.nextSweep = now.Add(w.l.srv.cfg.tick)
}

// handle acts on the events epoll reported.
func (w *worker) handle(events []syscall.EpollEvent) {
	for i := range events {
		ev := &events[i]
		c := w.l.table.get(ev.Fd)
		if c == nil || c.gen != uint32(ev.Pad) {
			continue // a connection closed earlier in this batch
		}
		if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			c.writable()
		}
		if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && c.phase != phReleased {
			w.readable(c, ev.Events)
		}
	}
}

// readable reads what c's socket holds and runs it through the connection. Edge-triggered,
// a socket must be read until it is empty, unless a read returned less than asked (epoll
// reports the next bytes as a new event) and the peer has not closed its end.
func (w *worker) readable(c *Conn, events uint32) {
	hup := events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	for budget := readBudget; c.phase != phReleased; {
		buf := c.directRoom(len(w.rbuf))
		if buf == nil {
			buf = w.rbuf
		}
		n, err := syscall.Read(int(c.fd), buf)
		switch {
		case err == syscall.EAGAIN:
			return
		case err == syscall.EINTR:
			continue
		case err != nil:
			c.eof(os.NewSyscallError("read", err))
			return
		case n == 0:
			c.eof(nil)
			return
		}
		if &buf[0] == &w.rbuf[0] {
			c.input(buf[:n])
		} else {
			c.direct(n)
		}
		if n < len(buf) && !hup {
			return
		}
		if budget -= n; budget <= 0 {
			w.again = append(w.again, c)
			return
		}
	}
}

// fdTable maps descriptors to the connections that hold them, in chunks allocated as
// descriptors reach them: 8 bytes per descriptor.
type fdTable struct {
	mu     sync.Mutex // serialises growth
	chunks atomic.Pointer[[]*fdChunk]
}

const fdChunkShift = 10

type fdChunk [1 << fdChunkShift]atomic.Pointer[Conn]

func (t *fdTable) get(fd int32) *Conn {
	p := t.chunks.Load()
	if p == nil || int(fd>>fdChunkShift) >= len(*p) {
		return nil
	}
	ch := (*p)[fd>>fdChunkShift]
	if ch == nil {
		return nil
	}
	return ch[fd&(1<<fdChunkShift-1)].Load()
}

func (t *fdTable) set(fd int32, c *Conn) {
	i := int(fd >> fdChunkShift)
	p := t.chunks.Load()
	if p == nil || i >= len(*p) || (*p)[i] == nil {
		t.mu.Lock()
		p = t.chunks.Load()
		var chunks []*fdChunk
		if p != nil {
			chunks = *p
		}
		if i >= len(chunks) || chunks[i] == nil {
			grown := make([]*fdChunk, max(len(chunks), i+1))
			copy(grown, chunks)
			grown[i] = new(fdChunk)
			t.chunks.Store(&grown)
			p = &grown
		}
		t.mu.Unlock()
	}
	(*p)[i][fd&(1<<fdChunkShift-1)].Store(c)
}

// clear empties fd's slot if c holds it.
func (t *fdTable) clear(fd int32, c *Conn) {
	p := t.chunks.Load()
	if p == nil || int(fd>>fdChunkShift) >= len(*p) || (*p)[fd>>fdChunkShift] == nil {
		return
	}
	(*p)[fd>>fdChunkShift][fd&(1<<fdChunkShift-1)].CompareAndSwap(c, nil)
}

func (t *fdTable) each(f func(*Conn)) {
	p := t.chunks.Load()
	if p == nil {
		return
	}
	for _, ch := range *p {
		if ch == nil {
			continue
		}
		for i := range ch {
			if c := ch[i].Load(); c != nil {
				f(c)
			}
		}
	}
}
