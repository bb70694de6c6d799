//go:build !js

package wsx

import (
	"github.com/wsx-go/wsx/internal/bridge"
)

// Package event, wsx's event-loop server, shares the rules below with the connections of this
// package through internal/bridge rather than through exported names.
func init() {
	bridge.AcceptBytes = func(b []byte, opts any, resp []byte) (bridge.Accepted, int, []byte, error) {
		cfg, n, out, err := acceptBytes(b, opts.(*AcceptOptions), resp)
		if err != nil {
			return bridge.Accepted{}, 0, out, err
		}
		rcfg, scfg := cfg.engines()
		return bridge.Accepted{
			Subprotocol: cfg.subprotocol,
			Extensions:  cfg.extensions,
			Receiver:    rcfg,
			Sender:      scfg,
		}, n, out, nil
	}
	bridge.ConnLimits = func(opts any) bridge.Limits {
		o := opts.(*ConnOptions)
		return bridge.Limits{ReadLimit: o.readLimit(), MaxFragments: o.maxFragments(),
			StallTimeout: o.stallTimeout(), CloseTimeout: o.closeTimeout()}
	}
	bridge.ReadLimit = func(n int64) int64 {
		o := ConnOptions{ReadLimit: n}
		return o.readLimit()
	}
	bridge.ReserveMessageMemory = messageMemory.reserve
	bridge.ReleaseMessageMemory = messageMemory.release
	bridge.ErrMessageMemory = errMessageMemory
	bridge.ErrClosed = errClosed
	bridge.AbnormalClosure = func(err error) error { return &CloseError{Code: StatusAbnormalClosure, err: err} }
	bridge.TruncateReason = truncateReason
	bridge.FailLinger = failLinger
	bridge.FailLingerBytes = failLingerBytes
}
