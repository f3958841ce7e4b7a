#!/usr/bin/env bash
# Runs the workspace's pinned pnpm (packageManager field) through corepack, whatever Node is on PATH.
# COREPACK_INTEGRITY_KEYS=0: the corepack bundled with Debian's/older Node carries stale registry keys
# and rejects current pnpm releases ("No compatible signature found"); the npm registry is still the source.
set -euo pipefail
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_INTEGRITY_KEYS=0 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Package scripts call `pnpm` again (pnpm run a && pnpm run b): scripts/bin/pnpm comes back here.
bin_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bin"
case ":$PATH:" in *":$bin_dir:"*) ;; *) export PATH="$bin_dir:$PATH" ;; esac
if command -v corepack >/dev/null 2>&1; then
  exec corepack pnpm "$@"
fi
exec npx --yes pnpm@10.34.9 "$@"
