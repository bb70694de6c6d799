//go:build !js

package wsx

import (
	"net"
	"net/http"
	"testing"
)

// For the tests of package event, in package wsx_test: AcceptConn's refusals, to hold the
// event server's handshake to them.

// RefusalTest is a request that breaks one rule of the opening handshake, with the options
// it is sent to and the refusal AcceptConn answers it with.
type RefusalTest struct {
	Name   string
	Req    string
	Opts   *AcceptOptions
	Status int
	Body   string      // the text, without its final newline
	Header http.Header // the fields but Date
}

// RefusalTests returns refusalTests as AcceptConn answers them.
func RefusalTests() []RefusalTest {
	var tests []RefusalTest
	for _, tt := range refusalTests {
		h := refusalHeader(tt.body, tt.extra...)
		h.Add("Connection", "close")
		tests = append(tests, RefusalTest{tt.name, tt.req, tt.opts, tt.status, tt.body, h})
	}
	return tests
}

// ReadRefusal reads a refusal from nc as AcceptConn writes it (checking its Date and the end
// of the connection after it) and returns its status, fields but Date, and body.
func ReadRefusal(t *testing.T, nc net.Conn) (int, http.Header, string) {
	r := readRefusal(t, nc)
	return r.status, r.header, r.body
}
