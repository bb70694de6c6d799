//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wsx

import (
	"net"
	"syscall"
	"unsafe"
)

// writevFD writes as much of bufs as one writev system call on fd takes, from at most
// maxIovecs buffers.
func writevFD(fd int, bufs net.Buffers) (int, error) {
	var iov [maxIovecs]syscall.Iovec
	n := 0
	for _, b := range bufs {
		if n == len(iov) {
			break
		}
		if len(b) > 0 {
			iov[n].Base = &b[0]
			iov[n].SetLen(len(b))
			n++
		}
	}
	r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// maxIovecs is the most buffers a raw writev takes (writev): it bounds the array that
// rawWrite's stack holds.
const maxIovecs = 8
