module github.com/wsx-go/wsx/h3transport

go 1.26.8

replace github.com/wsx-go/wsx => ../

require (
	github.com/quic-go/quic-go v0.65.0
	github.com/wsx-go/wsx v0.0.0-00010101000000-000000000000
)

require (
	github.com/quic-go/qpack v0.6.0 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/net v0.56.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)
