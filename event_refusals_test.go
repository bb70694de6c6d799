//go:build !js

package wsx_test

import (
	"errors"
	"io"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wsx-go/wsx"
	"github.com/wsx-go/wsx/event"
)

// TestEventServerRefusals sends each request of AcceptConn's refusal tests to an event-mode
// server (package event), which must answer with AcceptConn's status, fields and text, and
// open no connection.
func TestEventServerRefusals(t *testing.T) {
	for _, tt := range wsx.RefusalTests() {
		t.Run(tt.Name, func(t *testing.T) {
			opened := make(chan struct{}, 1)
			srv := &event.Server{Options: tt.Opts, OnOpen: func(*event.Conn) { opened <- struct{}{} }}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				srv.Close()
				if err := <-served; !errors.Is(err, event.ErrServerClosed) {
					t.Errorf("Serve: %v", err)
				}
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(nc, tt.Req); err != nil {
				t.Fatal(err)
			}
			status, header, body := wsx.ReadRefusal(t, nc)
			if status != tt.Status || body != tt.Body+"\n" {
				t.Errorf("refusal %d %q\nwant    %d %q", status, body, tt.Status, tt.Body+"\n")
			}
			if !maps.EqualFunc(header, tt.Header, slices.Equal) {
				t.Errorf("header = %q\nwant     %q", header, tt.Header)
			}
			select {
			case <-opened:
				t.Error("OnOpen was called")
			default:
			}
		})
	}
}
