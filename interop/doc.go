// Package interop tests wsx against real WebSocket peers: Node's ws package, headless
// Chromium (Debian's chromium package, driven by playwright-core) and gorilla/websocket.
//
// It is a module of its own so that users of wsx never download the peers. Run
// ./setup.sh once to install Chromium and the Node packages, then go test -race ./...;
// see README.md.
package interop
