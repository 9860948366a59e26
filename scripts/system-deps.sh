#!/usr/bin/env bash
# Installs the Debian packages the workstation uses, when run as root; otherwise says in one line what to install.
# Idempotent: does nothing (and asks apt nothing) when every package is already there.
set -euo pipefail

packages=(
  python3-venv          # the virtualenv
  tesseract-ocr         # the second OCR engine
  tesseract-ocr-chi-sim # its Simplified Chinese model
  fonts-noto-cjk        # CJK fonts for generated sample scans and PDFs
  poppler-utils         # pdftotext/pdftoppm, to check the searchable PDFs
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages missing (not a Debian system?): ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
