#!/usr/bin/env bash
# Installs the Debian packages Reprise needs to build and test, or the packages given as
# arguments (bench/install.sh); only what is missing.
set -euo pipefail

packages=(
  # build
  liblua5.4-dev libsqlite3-dev libmpdclient-dev libtagc0-dev libvips-dev pkg-config
  # tests: real players, fixtures, clients
  mpd sox libsox-fmt-mp3 flac vorbis-tools ffmpeg curl vlc-bin vlc-plugin-base mpc
  # the web UI's browser test
  chromium chromium-driver
  python3-venv
)
[ $# -gt 0 ] && packages=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Packages with services (nginx) start them on install; the benchmark runs its own private instances.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
