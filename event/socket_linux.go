package event

import (
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// The system calls of the epoll driver on a connection's socket.

// writeFD writes a then b to a non-blocking socket and returns how much it took: less than
// all when its buffer is full (epoll then reports the room as it comes).
func writeFD(fd int32, a, b []byte) (int, error) {
	if len(a) == 0 {
		a, b = b, nil
	}
	for {
		var n int
		var err error
		if len(b) == 0 {
			n, err = syscall.Write(int(fd), a)
		} else {
			iov := [2]syscall.Iovec{{Base: &a[0]}, {Base: &b[0]}}
			iov[0].SetLen(len(a))
			iov[1].SetLen(len(b))
			r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), 2)
			n = int(r)
			if e != 0 {
				err = e
			}
		}
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, os.NewSyscallError("write", err)
	}
}

// closeFD closes the connection's socket and forgets it; the caller is the owner and holds
// mu.
func (c *Conn) closeFD() {
	l := c.srv.loops
	l.table.clear(c.fd, c)
	syscall.Close(int(c.fd))
	l.workerOf(c).conns.Add(-1)
}

// shutdownFD shuts the sending half of the socket.
func (c *Conn) shutdownFD() { syscall.Shutdown(int(c.fd), syscall.SHUT_WR) }

// watchFD puts c among the connections whose waits its worker bounds in time.
func (c *Conn) watchFD() {
	w := c.srv.loops.workerOf(c)
	if len(w.timed) == 0 {
		w.nextSweep = time.Now().Add(c.srv.cfg.tick)
	}
	w.timed[c] = struct{}{}
}

// plainFD is the buffer the worker decrypts TLS records into.
func (c *Conn) plainFD() []byte {
	w := c.srv.loops.workerOf(c)
	if w.plain == nil {
		w.plain = make([]byte, 16<<10)
	}
	return w.plain
}

// socketAddr returns the address of a socket's end.
func socketAddr(fd int32, remote bool) net.Addr {
	var sa syscall.Sockaddr
	var err error
	if remote {
		sa, err = syscall.Getpeername(int(fd))
	} else {
		sa, err = syscall.Getsockname(int(fd))
	}
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port, Zone: zoneName(sa.ZoneId)}
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

func zoneName(id uint32) string {
	if id == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return ""
}
