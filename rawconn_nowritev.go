//go:build unix && !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wsx

import (
	"net"
	"syscall"
)

// maxIovecs is the most buffers a raw writev takes (writev).
const maxIovecs = 8

// writevFD writes as much of the first buffer of bufs as one write system call on fd takes,
// and consumes what it wrote: the syscall package has no writev here.
func writevFD(fd int, bufs *net.Buffers) (int, error) {
	for len(*bufs) > 0 && len((*bufs)[0]) == 0 {
		*bufs = (*bufs)[1:]
	}
	if len(*bufs) == 0 {
		return 0, nil
	}
	n, err := syscall.Write(fd, (*bufs)[0])
	if err != nil {
		return 0, err
	}
	consume(bufs, n)
	return n, nil
}
