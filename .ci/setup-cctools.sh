#!/usr/bin/env bash
# Build cctools 7.17.1 (TaskVine and Work Queue) once, for the parsl-taskvine tests.
#
# ndcctools is on conda-forge only, so CI builds the vendored source subset into a cache
# folder outside the repository: $PARSL_CCTOOLS_PREFIX (default
# /var/cache/parsl-cctools/7.17.1). A second run finds the finished build (marked by a
# stamp file written last) and does nothing. The tests' conftest looks there. Needs root
# for apt-get (swig, gcc, zlib and OpenSSL headers). The Python bindings are built for the
# python found first on PATH; CI runs this with the test venv active, so they match it.
# Every step is time-bounded; any failure prints the reason and the tail of the build log
# and exits non-zero.
set -euo pipefail

readonly VERSION=7.17.1
readonly PREFIX="${PARSL_CCTOOLS_PREFIX:-/var/cache/parsl-cctools/$VERSION}"
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly TARBALL="${PARSL_CCTOOLS_TARBALL:-$HERE/../../shared/vendor/cctools-$VERSION-subset.tar.gz}"
readonly STAMP="$PREFIX/.parsl-build-complete"
readonly BUILD_SECONDS=900
readonly LOG="${TMPDIR:-/tmp}/parsl-cctools-build.log"

say() { echo "setup-cctools: $*"; }
die() {
    echo "setup-cctools: ERROR: $*" >&2
    if [ -f "$LOG" ]; then
        echo "---- last lines of $LOG ----" >&2
        tail -n 30 "$LOG" >&2
    fi
    exit 1
}

# The interpreter scripts/run-tests.sh runs pytest with (`python`), else python3.
PYTHON="$(command -v python || command -v python3)" || die "no python on PATH"
PYVER="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
SITE="$PREFIX/lib/python$PYVER/site-packages"

if [ -f "$STAMP" ] && [ -x "$PREFIX/bin/vine_worker" ] && [ -d "$SITE/ndcctools" ]; then
    say "cctools $VERSION already built in $PREFIX"
    exit 0
fi

[ -f "$TARBALL" ] || die "source tarball $TARBALL not found (set PARSL_CCTOOLS_TARBALL)"

if ! command -v swig >/dev/null || ! command -v gcc >/dev/null \
        || [ ! -f /usr/include/zlib.h ] || [ ! -f /usr/include/openssl/ssl.h ]; then
    [ "$(id -u)" -eq 0 ] || die "swig, gcc, zlib1g-dev or libssl-dev missing and not root to install them"
    say "installing swig, gcc, make, zlib1g-dev, libssl-dev from Debian"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq || die "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends swig gcc g++ make \
        zlib1g-dev libssl-dev >/dev/null || die "apt-get install of the build tools failed"
fi

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/parsl-cctools-build.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
say "building cctools $VERSION for $PYTHON into $PREFIX (log: $LOG)"
tar -xzf "$TARBALL" -C "$BUILD" || die "could not unpack $TARBALL"
cd "$BUILD/cctools-$VERSION" || die "tarball did not contain cctools-$VERSION/"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
{
    timeout "$BUILD_SECONDS" ./configure --prefix "$PREFIX" \
        --with-python3-path "$("$PYTHON" -c 'import sys; print(sys.prefix)')" \
        --with-swig-path /usr --without-system-parrot --without-system-chirp \
        --without-system-grow --without-system-ftp-lite --without-system-doc \
        --without-system-makeflow
} >"$LOG" 2>&1 || die "configure failed"
timeout "$BUILD_SECONDS" make -j"$(nproc)" >>"$LOG" 2>&1 || die "make failed"
timeout "$BUILD_SECONDS" make install >>"$LOG" 2>&1 || die "make install failed"

for tool in vine_worker vine_factory work_queue_worker work_queue_factory; do
    [ -x "$PREFIX/bin/$tool" ] || die "build finished but $PREFIX/bin/$tool is missing"
done
[ -d "$SITE/ndcctools/taskvine" ] || die "build finished but $SITE/ndcctools/taskvine is missing"
touch "$STAMP"
say "cctools $VERSION built in $PREFIX"
