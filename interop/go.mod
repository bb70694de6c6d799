module github.com/wsx-go/wsx/interop

go 1.26.8

replace github.com/wsx-go/wsx => ../

require github.com/wsx-go/wsx v0.0.0-00010101000000-000000000000

require github.com/gorilla/websocket v1.5.3

require (
	github.com/quic-go/quic-go v0.65.0
	github.com/wsx-go/wsx/h3transport v0.0.0-00010101000000-000000000000
)

require (
	github.com/quic-go/qpack v0.6.0 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.63.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/wsx-go/wsx/h3transport => ../h3transport

require github.com/wsx-go/wsx/h2transport v0.0.0-00010101000000-000000000000

replace github.com/wsx-go/wsx/h2transport => ../h2transport
