module github.com/wsx-go/wsx

go 1.26.8
