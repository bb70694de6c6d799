//go:build unix && !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wsx

import (
	"net"
	"syscall"
)

// maxIovecs is the most buffers a raw writev takes (writev).
const maxIovecs = 8

// writevFD writes as much of the first non-empty buffer of bufs as one write system call on
// fd takes: the syscall package has no writev here.
func writevFD(fd int, bufs net.Buffers) (int, error) {
	for _, b := range bufs {
		if len(b) > 0 {
			return syscall.Write(fd, b)
		}
	}
	return 0, nil
}
