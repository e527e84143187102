#!/usr/bin/env bash
# Tally's gRPC contract (proto/, rules in proto/buf.yaml) checked by buf, pinned by this folder's
# package-lock.json and installed from the npm registry.
#
#   contract.sh install    npm ci, skipped while node_modules matches package-lock.json (so an
#                          offline machine that installed once keeps working)
#   contract.sh lint       buf lint (STANDARD) of proto/
#   contract.sh breaking   buf breaking (FILE) of proto/ against v1-baseline.json
#   contract.sh selftest   both checks fail on a copy of proto/ with a renamed field and a badly
#                          named message: the guard itself is tested
#   contract.sh baseline   rewrites v1-baseline.json from proto/ when that breaks nothing, so
#                          released additions are guarded too; `baseline --break` for a
#                          deliberate break (never in v1; README.md)
#
# ctest runs lint, breaking and selftest (label `contract`, tests/contract/); `tools/dev test`
# runs install first.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROTO="$ROOT/proto"
BASELINE="$HERE/v1-baseline.json"
BUF="$HERE/node_modules/.bin/buf"

die() { printf 'contract: %s\n' "$*" >&2; exit 1; }

cmd_install() {
  # --ignore-scripts: the buf package's postinstall only optimises its launcher, which finds
  # the platform binary (an optional dependency) without it.
  "$ROOT/tools/npm-ci" "$HERE" --ignore-scripts || die "could not install buf"
}

need_buf() {
  "$ROOT/tools/npm-ci" --check "$HERE" && "$BUF" --version >/dev/null 2>&1 \
    || die "buf is not installed or not the locked version: run tools/buf/contract.sh install (tools/dev test does)"
}

# buf works on the module whose buf.yaml is in the current directory.
lint_in() { (cd "$1" && "$BUF" lint); }
breaking_in() { (cd "$1" && "$BUF" breaking --against "$BASELINE"); }

cmd_selftest() {
  need_buf
  local tmp out
  tmp=$(mktemp -d)
  trap "rm -rf '$tmp'" EXIT
  cp -r "$PROTO" "$tmp/broken"
  # A renamed field: wire-compatible, but every generated accessor changes name.
  sed -i 's/^  int32 required_level = 2;$/  int32 level_required = 2;/' \
    "$tmp/broken/tally/policy/v1/policy.proto"
  grep -q 'level_required = 2;' "$tmp/broken/tally/policy/v1/policy.proto" \
    || die "selftest: AuthSettings.required_level not found where expected; update the selftest"
  # A message name that is not PascalCase.
  printf '\nmessage bad_name {}\n' >>"$tmp/broken/tally/common/v1/common.proto"

  if out=$(breaking_in "$tmp/broken" 2>&1); then
    die "selftest: buf breaking accepted a renamed field"
  fi
  grep -q 'FIELD_SAME_NAME\|changed name' <<<"$out" \
    || die "selftest: buf breaking failed, but not for the renamed field: $out"
  if out=$(lint_in "$tmp/broken" 2>&1); then
    die "selftest: buf lint accepted a message named bad_name"
  fi
  grep -q 'bad_name' <<<"$out" \
    || die "selftest: buf lint failed, but not for bad_name: $out"
  # The untouched copy passes both: the failures above come from the two edits alone.
  cp -r "$PROTO" "$tmp/clean"
  lint_in "$tmp/clean" && breaking_in "$tmp/clean" \
    || die "selftest: a clean copy of proto/ fails"
  echo "contract: selftest passed (a rename and a lint violation are refused)"
}

cmd_baseline() {
  need_buf
  # A refresh takes in additions (so they are guarded too) but never hides a break: that needs
  # --break, on purpose (README.md).
  if [ "${1:-}" != "--break" ] && ! breaking_in "$PROTO"; then
    die "proto/ breaks the baseline; fix the break (or, deliberately and never in v1: baseline --break)"
  fi
  # Only the v1 API: not the vendored gRPC protos, not the bench echo. Pretty-printed JSON
  # without source info, so a deliberate update shows as a readable diff.
  (cd "$PROTO" && "$BUF" build --path tally --exclude-path tally/bench \
    --exclude-source-info -o -#format=json) | python3 -m json.tool --indent 1 >"$BASELINE.tmp"
  mv "$BASELINE.tmp" "$BASELINE"
  echo "contract: wrote $BASELINE"
}

case "${1:-}" in
  install) cmd_install ;;
  lint) need_buf; lint_in "$PROTO"; echo "contract: buf lint passed" ;;
  breaking) need_buf; breaking_in "$PROTO"; echo "contract: buf breaking passed (against v1-baseline.json)" ;;
  selftest) cmd_selftest ;;
  baseline) shift; cmd_baseline "$@" ;;
  *) sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
