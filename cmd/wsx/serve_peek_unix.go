//go:build unix

package main

import (
	"io"
	"net"
	"syscall"
)

// canPeek reports that peekRequestHead works here.
const canPeek = true

// peekRequestHead waits until the socket of tc holds a whole request head, or as much as
// decides where the connection goes (see readRequestHead), and copies it into buf without
// taking it from the socket (recv with MSG_PEEK), so that whoever gets tc next reads it all.
// It returns the number of bytes copied and the length of the head, or -1.
func peekRequestHead(tc *net.TCPConn, buf []byte) (n, headLen int, err error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, -1, err
	}
	headLen = -1
	var peekErr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false // wait for data
			case e != nil:
				peekErr = e
				return true
			case m == 0:
				peekErr = io.EOF
				return true
			}
			if m == n {
				return false // nothing new since the last look: wait for more
			}
			n = m
			if headLen = headEnd(buf[:n]); headLen >= 0 || !mayBeHandshake(buf[:n]) || n == len(buf) {
				return true
			}
			return false
		}
	})
	if err == nil {
		err = peekErr
	}
	return n, headLen, err
}
