#!/usr/bin/env bash
# Runs the whole test suite of wsx, installing first what the interop tests need (Debian's
# chromium, Node's ws and playwright-core). Usage: scripts/test.sh
# WSX_FUZZTIME (default 5s) is how long each fuzz target runs; 0 runs the seed corpora only
# (they always run as part of go test). CI uses 0 so that a landing never hangs on what a
# fuzzer happens to find that day; fuzz for longer by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
default_fuzztime=5s
[ "${CI:-}" = true ] && default_fuzztime=0
fuzztime=${WSX_FUZZTIME:-$default_fuzztime}
staticcheck_version=v0.8.2

step() { printf '\n== %s\n' "$*"; }

step "setup: interop peers"
bash interop/setup.sh

step "setup: staticcheck $staticcheck_version"
export PATH="$(go env GOPATH)/bin:$PATH"
if ! staticcheck -version 2>/dev/null | grep -q "${staticcheck_version#v}"; then
	go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi

modules=(. h2transport h3transport natsbroker cmd/wsx interop bench)
# The library, its transports (HTTP/2 with x/net, HTTP/3 with quic-go), the NATS broker and the
# command: the core module and the optional modules (go.work joins them).
lib=(./... ./h2transport/... ./h3transport/... ./natsbroker/... ./cmd/wsx/...)

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
for m in "${modules[@]}"; do
	(cd "$m" && go vet ./... && staticcheck ./...)
done

step "go vet for the browser (GOOS=js GOARCH=wasm): the library and the wasm interop client"
GOOS=js GOARCH=wasm go vet ./...
(cd interop && GOOS=js GOARCH=wasm go vet ./wasmclient)

step "the library and the command (go test -race)"
go test -race -count=1 "${lib[@]}"

step "memory tests without the race detector (it randomises sync.Pool and doubles stack frames)"
go test -count=1 -run 'Allocs|IdleStack|IdleHeap|IdleState|SizeClass' "${lib[@]}"

step "fuzzing each target for $fuzztime (the seed corpora always run above)"
if [ "$fuzztime" != 0 ]; then
	for pkg in $(go list "${lib[@]}"); do
		dir=$(go list -f '{{.Dir}}' "$pkg")
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
			echo "fuzz $pkg $target"
			go test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" "$pkg" >/tmp/wsx-fuzz.log 2>&1 ||
				{ cat /tmp/wsx-fuzz.log; exit 1; }
		done
	done
fi

step "interop with real peers: Node ws, Chromium (wsx in the page too, as WebAssembly), gorilla/websocket"
(cd interop && go test -race -count=1 ./...)

step "benchmarks, once each, so they keep compiling and stay correct"
go test -run='^$' -bench=. -benchtime=1x "${lib[@]}"
(cd bench && go test -count=1 ./...)

step "all tests passed"
