#!/usr/bin/env bash
# Install versitygw, the S3 gateway the MSS tests (core/mss) run a real S3
# server with, unless it is already there. The tests look for it in
# $VERSITYGW, then PATH, then $(go env GOPATH)/bin. A cold build takes
# about 150 s.
set -euo pipefail
VERSION=v1.8.0
export PATH=$PATH:/usr/local/go/bin

if [ -n "${VERSITYGW:-}" ] && [ -x "$VERSITYGW" ]; then
  echo "versitygw: $VERSITYGW"; exit 0
fi
if command -v versitygw >/dev/null; then
  echo "versitygw: $(command -v versitygw)"; exit 0
fi
bin="$(go env GOPATH | cut -d: -f1)/bin/versitygw"
if [ -x "$bin" ]; then
  echo "versitygw: $bin"; exit 0
fi
echo "installing versitygw $VERSION (go install, about 150 s cold)"
go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
"$bin" --version || true
echo "versitygw: $bin"
