//go:build !js

package wsx

import (
	"bytes"
	"sync"
	"time"

	"github.com/wsx-go/wsx/internal/bridge"
	"github.com/wsx-go/wsx/internal/httphead"
)

// acceptBytes is AcceptConn for a driver that does its own I/O, such as an event loop: it
// runs the server side of the opening handshake (§4.2) on b, the bytes a client has sent so
// far, by the same rules and with the same limits as AcceptConn, and appends the answer to
// resp. It returns
//
//   - the negotiated configuration and n, the length of the request head, with the 101
//     response appended: the connection is open, and b[n:] holds the first frames;
//   - a *refusal, with the refusal appended (Date and "Connection: close" included);
//   - bridge.ErrIncomplete, with nothing appended, while the head has not arrived whole.
func acceptBytes(b []byte, opts *AcceptOptions, resp []byte) (connConfig, int, []byte, error) {
	if opts == nil {
		opts = &zeroAcceptOptions
	}
	st := acceptStates.Get().(*acceptState)
	src := byteReaders.Get().(*bytes.Reader)
	defer func() {
		src.Reset(nil)
		byteReaders.Put(src)
		st.release()
	}()
	src.Reset(b)
	st.br.Reset(src)
	head, n, err := httphead.PeekRequest(st.br)
	if err != nil {
		if herr, ok := err.(*httphead.Error); ok {
			ref := refuseWith(herr.Status, herr.Reason)
			return connConfig{}, 0, ref.appendRaw(resp, time.Now()), ref
		}
		return connConfig{}, 0, resp, bridge.ErrIncomplete // the rest is still on its way
	}
	acc, ref := st.answer(head, opts)
	if ref != nil {
		return connConfig{}, 0, ref.appendRaw(resp, time.Now()), ref
	}
	return acc.config(opts, nil), n, append(resp, st.resp...), nil
}

// byteReaders hold the readers that acceptBytes reads b through.
var byteReaders = sync.Pool{New: func() any { return new(bytes.Reader) }}
