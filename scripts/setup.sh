#!/usr/bin/env bash
# Conclave set-up: everything `npm start` and `npm test` need on a fresh Debian 12 machine.
# Idempotent and quick when nothing is missing. Steps:
#   1. Debian packages (as root: installs them; otherwise prints the exact apt command and stops)
#   2. node modules via pnpm (pinned by pnpm-lock.yaml; brings Node 24 as the `node` package)
#   3. the mediasoup worker, built from source against Debian's libraries (cached per version)
#   4. the web page bundle
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  cat <<'HELP'
Usage: bash scripts/setup.sh

Installs what Conclave needs on Debian 12 and is quick when nothing is missing (npm start and npm test
run it first): Debian packages (as root; otherwise prints the apt-get command), node modules via pnpm
(Node 24 included), the mediasoup worker (built from source, cached in ~/.cache/conclave), the web page.

Environment: CONCLAVE_CACHE_DIR  where built mediasoup workers are cached (default ~/.cache/conclave)
HELP
  exit 0
fi
cd "$(dirname "$0")/.."
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# Packages: build tools + libraries for the mediasoup worker, Chromium for the e2e tests, sox for tone
# files, xmllint for schema checks, SIP phones/tools for interop tests, Kamailio as the
# reference proxy for `pnpm bench`, GStreamer for plain SIP phones' media (G.711 <-> Opus, mixing).
APT_PACKAGES=(g++ make pkg-config python3 ninja-build flatbuffers-compiler libflatbuffers-dev libuv1-dev
  libssl-dev libsrtp2-dev libabsl-dev libusrsctp-dev chromium sox libxml2-utils fonts-dejavu-core
  baresip-core baresip linphone-cli sip-tester sipsak kamailio kamailio-websocket-modules kamailio-redis-modules kamailio-tls-modules redis-server
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libopus-dev libspandsp-dev)  # the room mixer's codecs (packages/mixer builds its addon against them)
MESON_MIN=1.1

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
meson_ok() { command -v meson >/dev/null && [ "$(printf '%s\n%s\n' "$MESON_MIN" "$(meson --version)" | sort -V | head -n1)" = "$MESON_MIN" ]; }
backports_file=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ${#missing[@]} -gt 0 ] || ! meson_ok; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]:-}$(meson_ok || echo ' meson>=1.1 (from bookworm-backports)')"
    echo "Run as root:"
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]:-}"
    meson_ok || echo "  (add bookworm-backports to apt sources) && apt-get install -y -t bookworm-backports meson"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]:-} meson"
  if ! meson_ok && [ ! -f "$backports_file" ]; then
    uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$backports_file"
  fi
  apt-get update -q
  [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  meson_ok || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports meson
fi

# Node modules. The stamp avoids re-running pnpm when the lockfile has not changed.
stamp=node_modules/.conclave-install-stamp
if [ ! -f "$stamp" ] || [ pnpm-lock.yaml -nt "$stamp" ] || [ ! -x node_modules/.bin/node ]; then
  say "installing node modules (pnpm, frozen lockfile)"
  bash scripts/pnpm.sh install --frozen-lockfile
  touch "$stamp"
fi
say "node $(node_modules/.bin/node --version) (from the registry's node package)"

# mediasoup worker (mediasoup's default path; restored from the per-version cache when possible).
ms_dir=$(realpath packages/media/node_modules/mediasoup)
if [ ! -x "$ms_dir/worker/out/Release/mediasoup-worker" ]; then
  say "building the mediasoup worker (first time on this machine: ~5 min on 2 cores)"
  sh scripts/build-mediasoup-worker.sh
fi

# Web page bundle.
say "building the web page"
bash scripts/pnpm.sh --filter @conclave/web run build >/dev/null
say "ready"
