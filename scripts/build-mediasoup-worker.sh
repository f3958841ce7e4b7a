#!/bin/sh
# Build mediasoup-worker from the npm tarball's own C++ sources against Debian's libraries: the
# prebuilt download and meson's subproject downloads cannot reach their hosts from these machines.
# Called by scripts/setup.sh after `pnpm install`. The result goes to mediasoup's default path
# (worker/out/Release/mediasoup-worker, so no env var is needed at run time) and to a per-version
# cache outside the repo, so a fresh install on the same machine restores it in a second.
set -eu
case "${1:-}" in -h|--help)
  echo "Usage: sh scripts/build-mediasoup-worker.sh   (after pnpm install; needs the build tools scripts/setup.sh installs)"
  echo "Builds node_modules/mediasoup/worker/out/Release/mediasoup-worker from mediasoup's sources against Debian's"
  echo "libraries, or restores it from \$CONCLAVE_CACHE_DIR/mediasoup-worker/<version> (default ~/.cache/conclave)."
  exit 0;;
esac
PROJ=$(cd "$(dirname "$0")/.." && pwd)
MS_DIR=$(realpath "$PROJ/packages/media/node_modules/mediasoup")
MS_VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$MS_DIR/package.json")
CACHE="${CONCLAVE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/conclave}/mediasoup-worker"
DEST="$MS_DIR/worker/out/Release/mediasoup-worker"

# 1. Build tools come from Debian (scripts/setup.sh installs them; meson >= 1.1 from bookworm-backports).
for tool in meson ninja flatc pkg-config g++; do
  command -v "$tool" >/dev/null || { echo "build-mediasoup-worker: '$tool' is missing; run scripts/setup.sh as root" >&2; exit 1; }
done

# 2. Cached binary for this version?
if [ -x "$CACHE/$MS_VERSION/mediasoup-worker" ]; then
  mkdir -p "$(dirname "$DEST")"; cp "$CACHE/$MS_VERSION/mediasoup-worker" "$DEST"
  echo "mediasoup-worker $MS_VERSION restored from cache"; exit 0
fi

[ -f "$MS_DIR/worker/subprojects/libsrtp3.wrap" ] || { echo "needs mediasoup >= 3.16 (libsrtp3 wrap)"; exit 1; }

# 3. Copy the worker sources and replace each downloaded subproject by a Debian shim.
B=$(mktemp -d /tmp/ms-worker-build.XXXXXX)
cp -r "$MS_DIR/worker" "$B/worker"
S="$B/worker/subprojects"
dir_of() { sed -n 's/^directory *= *//p' "$S/$1.wrap"; }
shim() { # shim <wrap name> ; meson.build body on stdin
  d="$S/$(dir_of "$1")"; mkdir -p "$d"; : > "$d/empty.c"
  { echo "project('$1-debian-shim', 'c', 'cpp')"; cat; } > "$d/meson.build"
}
opt() { echo "option('$2', type: '$3', value: $4)" >> "$S/$(dir_of "$1")/meson_options.txt"; }

shim openssl <<'EOF'
openssl_dep = dependency('openssl', version: '>= 3.0')
libcrypto_lib = static_library('crypto_shim', 'empty.c')
libssl_lib = static_library('ssl_shim', 'empty.c')
EOF
shim libuv <<'EOF'
libuv_dep = dependency('libuv')
libuv = static_library('uv_shim', 'empty.c')
EOF
opt libuv build_tests boolean false; opt libuv build_benchmarks boolean false
shim usrsctp <<'EOF'
usrsctp_dep = dependency('usrsctp')
usrsctp = static_library('usrsctp_shim', 'empty.c')
EOF
opt usrsctp sctp_build_programs boolean false
shim flatbuffers <<'EOF'
flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = static_library('flatbuffers_shim', 'empty.c')
EOF
shim catch2 <<'EOF'
catch2_dep = dependency('catch2-with-main', required: false)
EOF
shim abseil-cpp <<'EOF'
absl_deps = []
foreach m : ['flat_hash_map', 'flat_hash_set', 'node_hash_map', 'btree', 'inlined_vector', 'memory', 'optional', 'variant', 'strings', 'span']
  absl_deps += dependency('absl_' + m)
endforeach
absl_container_dep = declare_dependency(dependencies: absl_deps)
absl_strings_dep = absl_container_dep
absl_types_dep = absl_container_dep
absl_container_lib = static_library('absl_shim', 'empty.c')
EOF
# mediasoup >= 3.16 uses a libsrtp 3 fork (wrap 'libsrtp3'); adapt Debian's libsrtp2 to its API.
W=libsrtp3
shim $W <<'EOF'
srtp2 = dependency('libsrtp2', version: '>= 2.5')
libsrtp3_dep = declare_dependency(dependencies: srtp2, include_directories: include_directories('include'))
libsrtp3 = static_library('srtp_shim', 'empty.c')
EOF
opt $W crypto-library string "'openssl'"; opt $W crypto-library-kdf feature "'disabled'"; opt $W tests feature "'disabled'"
mkdir -p "$S/$(dir_of $W)/include"
cat > "$S/$(dir_of $W)/include/srtp.h" <<'EOF'
/* Debian shim: the system libsrtp2 (>= 2.5) under the libsrtp 3 API used by mediasoup. */
#ifndef MS_DEBIAN_SRTP_SHIM_H
#define MS_DEBIAN_SRTP_SHIM_H
#include <srtp2/srtp.h>
#ifdef __cplusplus
#include <climits>
#include <cstddef>
#include <cstring>
/* Status codes that only libsrtp 3 has. */
#define srtp_err_status_buffer_small (static_cast<srtp_err_status_t>(28))
#define srtp_err_status_cryptex_err (static_cast<srtp_err_status_t>(29))
namespace ms_srtp_shim {
typedef srtp_err_status_t (*fn2)(srtp_t, void*, int*);
inline srtp_err_status_t run(fn2 f, srtp_t ctx, const uint8_t* in, size_t in_len, uint8_t* out,
                             size_t* out_len, size_t grow)
{
	if (in_len > static_cast<size_t>(INT_MAX) - grow || *out_len < in_len + grow)
		return srtp_err_status_buffer_small;
	if (out != in)
		std::memmove(out, in, in_len);
	int len = static_cast<int>(in_len);
	srtp_err_status_t err = f(ctx, out, &len);
	if (err == srtp_err_status_ok)
		*out_len = static_cast<size_t>(len);
	return err;
}
} // namespace ms_srtp_shim
/* libsrtp 3 signatures (C++ overloads of the libsrtp2 C functions); mki_index must be 0. */
inline srtp_err_status_t srtp_protect(srtp_t ctx, const uint8_t* rtp, size_t rtp_len, uint8_t* srtp,
                                      size_t* srtp_len, size_t mki_index)
{
	if (mki_index != 0) return srtp_err_status_bad_mki;
	return ms_srtp_shim::run(::srtp_protect, ctx, rtp, rtp_len, srtp, srtp_len, SRTP_MAX_TRAILER_LEN);
}
inline srtp_err_status_t srtp_unprotect(srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp,
                                        size_t* rtp_len)
{
	return ms_srtp_shim::run(::srtp_unprotect, ctx, srtp, srtp_len, rtp, rtp_len, 0);
}
inline srtp_err_status_t srtp_protect_rtcp(srtp_t ctx, const uint8_t* rtcp, size_t rtcp_len,
                                           uint8_t* srtcp, size_t* srtcp_len, size_t mki_index)
{
	if (mki_index != 0) return srtp_err_status_bad_mki;
	return ms_srtp_shim::run(::srtp_protect_rtcp, ctx, rtcp, rtcp_len, srtcp, srtcp_len, SRTP_MAX_TRAILER_LEN + 4);
}
inline srtp_err_status_t srtp_unprotect_rtcp(srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len,
                                             uint8_t* rtcp, size_t* rtcp_len)
{
	return ms_srtp_shim::run(::srtp_unprotect_rtcp, ctx, srtcp, srtcp_len, rtcp, rtcp_len, 0);
}
/* Renamed in libsrtp 3 (ssrc in network byte order in both). */
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
#endif /* __cplusplus */
#endif
EOF

# 4. One-line fix in the worker's DTLS BIO callback: it returned 1 instead of the real result for
# BIO_CB_CTRL|BIO_CB_RETURN, so Debian's KTLS-enabled libssl sees BIO_get_ktls_send()==1, skips
# allocating the DTLS write buffer and the worker SIGSEGVs in do_dtls1_write() on the first
# ClientHello (mediasoup's own bundled OpenSSL is built without KTLS, which hides it).
sed -i 's/(operationType == BIO_CB_RETURN)/(operationType \& BIO_CB_RETURN)/' "$B/worker/src/RTC/DtlsTransport.cpp"
grep -q '(operationType & BIO_CB_RETURN)' "$B/worker/src/RTC/DtlsTransport.cpp"

# 5. Build (release; liburing off: bookworm's liburing 2.3 is older than the wrap's 2.5).
cd "$B/worker"
meson setup --buildtype release -Db_ndebug=true -Db_pie=true --wrap-mode=nodownload \
  -Dms_disable_liburing=true out/Release
meson compile -C out/Release flatbuffers-generator
meson compile -C out/Release -j "$(nproc)" mediasoup-worker
strip out/Release/mediasoup-worker
mkdir -p "$CACHE/$MS_VERSION" "$(dirname "$DEST")"
cp out/Release/mediasoup-worker "$CACHE/$MS_VERSION/mediasoup-worker"
cp out/Release/mediasoup-worker "$DEST"
cd "$PROJ"; rm -rf "$B"
echo "mediasoup-worker $MS_VERSION built: $DEST ($(stat -c %s "$DEST") bytes)"
