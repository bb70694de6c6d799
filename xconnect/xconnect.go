// Package xconnect turns on extended CONNECT (RFC 8441) in net/http's HTTP/2 server, so that
// browsers open wss:// WebSockets as HTTP/2 streams and wsx.Accept serves them. Import it for
// its side effect, in package main:
//
//	import _ "github.com/wsx-go/wsx/xconnect"
//
// Go 1.24 to 1.26 have the feature but keep it off unless the environment variable GODEBUG
// holds http2xconnect=1 when the program starts (golang/go#71128; a //go:debug line does not
// work, since net/http reads the variable itself). This package adds it to GODEBUG before
// net/http's initialization reads it: the Go specification initializes packages in the order
// of their import paths wherever their imports allow (Go 1.21 and later), this one imports
// nothing that needs net/http, and its path sorts before "net/http". Setting
// GODEBUG=http2xconnect=1 in the environment does the same without this package; a Go
// version without the feature ignores both.
//
// The setting applies to every HTTP/2 server of the process: once it is on, browsers send
// every wss:// WebSocket to it as an extended CONNECT, which WebSocket libraries other than
// wsx may refuse. A server whose WebSockets are all served by wsx.Accept can turn it on.
package xconnect

import (
	"os"
	"strings"
)

// Setting is the GODEBUG setting that turns extended CONNECT on.
const Setting = "http2xconnect=1"

func init() {
	v := os.Getenv("GODEBUG")
	if strings.Contains(v, Setting) {
		return
	}
	if v != "" {
		v += ","
	}
	os.Setenv("GODEBUG", v+Setting)
}
