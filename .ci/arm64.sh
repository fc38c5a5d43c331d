#!/bin/sh
# Runs the kernels tests for GOARCH=arm64 under qemu-user (the pure-Go path:
# no arm64 assembly), installing Debian's qemu-user-static when it is missing.
# Usage: .ci/arm64.sh [extra go test flags]   (default: -short)
set -eu
cd "$(dirname "$0")/.."
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
	echo "arm64: installing qemu-user-static" >&2
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-user-static
fi
GOARCH=arm64 CGO_ENABLED=0 go vet ./kernels/
GOARCH=arm64 CGO_ENABLED=0 go test -exec qemu-aarch64-static "${@:--short}" ./kernels/
