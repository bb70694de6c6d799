module github.com/wsx-go/wsx/h2transport

go 1.26.8

replace github.com/wsx-go/wsx => ../

require (
	github.com/wsx-go/wsx v0.0.0-00010101000000-000000000000
	golang.org/x/net v0.63.0
)

require golang.org/x/text v0.44.0 // indirect
