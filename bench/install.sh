#!/usr/bin/env bash
# Installs the benchmark references and tools (nginx with Lua, wrk, taskset); only what is missing.
set -euo pipefail
exec "$(dirname "$0")/../scripts/install-deps.sh" nginx libnginx-mod-http-lua wrk util-linux sqlite3 sox flac python3 supysonic python3-gunicorn
