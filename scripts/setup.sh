#!/usr/bin/env bash
# Creates .venv and installs everything xnorflow needs, following ../shared/TOOLCHAIN.md.
# Idempotent: a stamp file records the hash of the requirement files; a second run with
# nothing changed only re-checks the apt tools (a few seconds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
req="$root/requirements"
stamp="$venv/.xnorflow-setup-stamp"
log() { printf '[setup] %s\n' "$*"; }

# System tools (root only): g++ (Verilator, C-sim), tclsh (Tcl script checks), ccache for
# Verilator builds, liblz4-dev + zlib1g-dev for its FST waveforms, Icarus, Yosys, nextpnr-ice40,
# openFPGALoader (`xnorflow flash`).
apt_pkgs="g++ tcl ccache liblz4-dev zlib1g-dev iverilog yosys nextpnr-ice40 fpga-icestorm
  fpga-icestorm-chipdb openfpgaloader"
missing=""
for p in $apt_pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    log "not root: skipping apt packages$missing (xnorflow doctor says what they give)"
  fi
fi

want=$(cat "$req"/*.txt "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/xnorflow" ]; then
  log "python environment up to date ($venv)"
  exit 0
fi

[ -x "$venv/bin/python" ] || { log "creating $venv"; python3 -m venv "$venv"; }
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$req/constraints.txt")
log "torch (CPU wheel, pinned)"
"${pip[@]}" torch==2.13.0
log "finn-plus requirements (brevitas 0.13.4, qonnx 1.0.0, ...)"
"${pip[@]}" -r "$req/finn-deps.txt"
log "finn-plus 1.6.1 (--no-deps) and hls4ml headers (--no-deps)"
"${pip[@]}" --no-deps finn-plus==1.6.1 hls4ml==1.3.0
log "simulation, synthesis and developer tools"
"${pip[@]}" -r "$req/tools.txt"
log "xnorflow (editable)"
"${pip[@]}" --no-deps -e "$root"
echo "$want" > "$stamp"
log "done: $venv/bin/xnorflow doctor"
