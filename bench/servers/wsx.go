package servers

import (
	"context"
	"net"
	"net/http"

	"github.com/wsx-go/wsx"
)

func init() {
	register(&Lib{Name: "wsx", Serve: serveWsx, Deflate: true})
}

// serveWsx uses wsx as its documentation recommends for speed: ReadMessage appending into one
// reused buffer, and Write. permessage-deflate uses the zero CompressionOptions (level 5).
func serveWsx(ln net.Listener, o Options) (Server, error) {
	opts := &wsx.AcceptOptions{ConnOptions: wsx.ConnOptions{ReadLimit: ReadLimit}}
	if o.Deflate {
		opts.Compression = &wsx.CompressionOptions{}
	}
	return serveHTTP(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsx.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		var buf []byte
		for {
			typ, p, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				return
			}
			buf = p
			if err := c.Write(ctx, typ, buf); err != nil {
				return
			}
		}
	})), nil
}
