#!/usr/bin/env bash
# Installs what compiling kiln's `cuda` build needs on a Debian bookworm
# machine without a GPU: cuda.h and the libcuda.so link stub, taken from
# Debian's nvidia-cuda-dev package (CUDA 11.8, component non-free) without
# installing the toolkit. Idempotent: a second run only prints the settings.
#
#   .ci/cuda-deps.sh           headers + stub into $KILN_CUDA_DIR
#   .ci/cuda-deps.sh --nvcc    also apt-get install nvidia-cuda-toolkit (nvcc
#                              11.8, about 3 GB), needed only to regenerate
#                              the PTX (go generate ./kernels/cuda/)
#
# It writes $KILN_CUDA_DIR/env.sh; source it (or copy the two lines it
# prints) before `go build -tags cuda`:
#
#   . "${KILN_CUDA_DIR:-$HOME/.cache/kiln-cuda}/env.sh"
#
# A binary built this way links libcuda.so.1 dynamically: it starts only on
# a machine with the NVIDIA driver installed. The stub is for linking only.
set -euo pipefail

dir=${KILN_CUDA_DIR:-$HOME/.cache/kiln-cuda}
want_nvcc=0
for arg in "$@"; do
	case $arg in
	--nvcc) want_nvcc=1 ;;
	*)
		echo "cuda-deps.sh: unknown argument $arg (want --nvcc or nothing)" >&2
		exit 2
		;;
	esac
done

arch=$(dpkg --print-architecture)
case $arch in
amd64) triplet=x86_64-linux-gnu ;;
arm64) triplet=aarch64-linux-gnu ;;
*)
	echo "cuda-deps.sh: no Debian CUDA packages for $arch" >&2
	exit 1
	;;
esac
inc=$dir/usr/include
stubs=$dir/usr/lib/$triplet/stubs

sudo=
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi

apt_updated=0
enable_nonfree() {
	local src=/etc/apt/sources.list.d/kiln-cuda-nonfree.sources
	if [ ! -f "$src" ]; then
		echo "cuda-deps: enabling Debian contrib/non-free in $src"
		$sudo tee "$src" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		apt_updated=0
	fi
	if [ $apt_updated = 0 ]; then
		$sudo apt-get update -qq
		apt_updated=1
	fi
}

if [ ! -f "$inc/cuda.h" ] || [ ! -f "$stubs/libcuda.so" ]; then
	enable_nonfree
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt-get download runs as _apt
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq nvidia-cuda-dev)
	mkdir -p "$dir.partial"
	# Only the headers and the driver stub: the package is mostly static
	# libraries that the cgo build never reads.
	dpkg-deb --fsys-tarfile "$tmp"/nvidia-cuda-dev_*.deb |
		nice -n 19 tar -x -C "$dir.partial" ./usr/include "./usr/lib/$triplet/stubs"
	rm -rf "$dir"
	mv "$dir.partial" "$dir"
	rm -rf "$tmp"
	trap - EXIT
fi

if [ $want_nvcc = 1 ] && ! command -v nvcc >/dev/null; then
	enable_nonfree
	echo "cuda-deps: installing nvidia-cuda-toolkit (nvcc)"
	DEBIAN_FRONTEND=noninteractive nice -n 19 $sudo apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit
fi

cat >"$dir/env.sh" <<EOF
# kiln cuda build settings, written by .ci/cuda-deps.sh
export CGO_CFLAGS="-I$inc"
export CGO_LDFLAGS="-L$stubs"
EOF
cat "$dir/env.sh"
