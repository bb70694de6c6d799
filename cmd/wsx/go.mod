module github.com/wsx-go/wsx/cmd/wsx

go 1.26.8

replace github.com/wsx-go/wsx => ../..

replace (
	github.com/wsx-go/wsx/h2transport => ../../h2transport
	github.com/wsx-go/wsx/h3transport => ../../h3transport
	github.com/wsx-go/wsx/natsbroker => ../../natsbroker
)

require (
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.56.0
	github.com/quic-go/quic-go v0.65.0
	github.com/wsx-go/wsx v0.0.0-00010101000000-000000000000
	github.com/wsx-go/wsx/h2transport v0.0.0-00010101000000-000000000000
	github.com/wsx-go/wsx/h3transport v0.0.0-00010101000000-000000000000
	github.com/wsx-go/wsx/natsbroker v0.0.0-00010101000000-000000000000
	golang.org/x/net v0.63.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/quic-go/qpack v0.6.0 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
