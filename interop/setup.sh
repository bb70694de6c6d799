#!/usr/bin/env bash
# setup.sh installs what the interop tests need on a fresh Debian machine:
# Debian's chromium (never a browser downloaded by a tool) and the Node
# packages pinned in node/package-lock.json. It is idempotent and runs without
# a terminal (CI=true, no stdin). Go fetches gorilla/websocket by itself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chromium=/usr/bin/chromium

die() {
	echo "interop/setup.sh: $*" >&2
	exit 1
}

# Chromium, from the distribution's package.
if [ ! -x "$chromium" ]; then
	command -v apt-get >/dev/null 2>&1 ||
		die "$chromium is missing and apt-get is not available: install Debian's chromium package (or set WSX_INTEROP_SKIP=1 to skip the interop tests explicitly)"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
			die "$chromium is missing and installing it needs root: run 'apt-get install chromium' as root"
		sudo="sudo -n"
	fi
	echo "interop/setup.sh: installing chromium with apt-get (this takes a while)"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q </dev/null
	$sudo apt-get install -y -q --no-install-recommends chromium </dev/null
	[ -x "$chromium" ] || die "apt-get installed chromium but $chromium does not exist"
fi

# Node packages: npm ci when node_modules is missing or was installed from
# another package-lock.json (the stamp holds the lock file's hash).
command -v node >/dev/null 2>&1 || die "node is not installed (Node 20 or later is needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
cd "$here/node"
stamp=node_modules/.wsx-package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	echo "interop/setup.sh: npm ci in interop/node"
	# playwright-core downloads nothing on install; the variable makes sure of it.
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund </dev/null
	echo "$want" >"$stamp"
fi

echo "interop/setup.sh: ready ($("$chromium" --version 2>/dev/null || echo chromium), node $(node --version))"
