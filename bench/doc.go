// Package bench is the home of wsx's side-by-side benchmark against the other Go WebSocket
// libraries; see README.md. The code is in cmd/wsxbench (the runner), load (the load
// generator) and servers (one echo server per library).
package bench
