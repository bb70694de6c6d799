module github.com/wsx-go/wsx/cmd/wsx

go 1.26.8

replace github.com/wsx-go/wsx => ../..

require github.com/wsx-go/wsx v0.0.0-00010101000000-000000000000
