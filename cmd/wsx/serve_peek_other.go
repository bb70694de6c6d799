//go:build !unix

package main

import (
	"errors"
	"net"
)

// canPeek reports that peekRequestHead does not work here: connections are read and given
// back through peekedConn.
const canPeek = false

func peekRequestHead(*net.TCPConn, []byte) (int, int, error) {
	return 0, -1, errors.ErrUnsupported
}
