//go:build !js

package wsx

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var errNoPong = errors.New("wsx: no pong in time")

// KeepAlive pings the peer every interval and closes the connection (without a closing
// handshake: the peer is not answering) when a pong does not come back within timeout. It
// returns when ctx is done (nil), when the connection ends (nil), or after closing a
// connection whose peer stopped answering (an error saying so).
//
// Pongs are seen by reads: when no other goroutine is reading, each Ping reads by itself until
// its pong (see Ping). It is meant to run in a goroutine of its own:
//
//	go c.KeepAlive(ctx, 30*time.Second, 10*time.Second)
//
// It detects dead peers and half-open TCP connections, and keeps proxies and NATs that drop
// idle connections from doing so.
func (c *Conn) KeepAlive(ctx context.Context, interval, timeout time.Duration) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.rare().readDone.wait():
			return nil
		case <-ticker.C:
		}
		pingCtx, cancel := context.WithTimeoutCause(ctx, timeout, errNoPong)
		err := c.Ping(pingCtx)
		cause := context.Cause(pingCtx)
		cancel()
		switch {
		case err == nil:
		case cause == errNoPong:
			c.CloseNow()
			return fmt.Errorf("wsx: no pong within %v; connection closed", timeout)
		default:
			return nil // ctx is done or the connection ended
		}
	}
}
