#!/usr/bin/env bash
# Publishes the self-contained csvol binary, skipping the publish when it is newer than every source.
# Usage: scripts/publish.sh [BACKEND]
#   without BACKEND: every available backend compiled in, to artifacts/publish/csvol (a development build; no test or
#                    plugin uses it);
#   with BACKEND:    that backend alone (-p:CsvolBackends=BACKEND), to artifacts/publish/BACKEND/csvol, the binary
#                    managed plugin csvol/BACKEND ships, so that one backend's SDK is not linked into another's plugin.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -le 1 ]] || die "usage: $0 [BACKEND]   (one of: $CSVOL_BACKENDS)"
need_cmd dotnet "the .NET SDK"
cd "$CSVOL_REPO_ROOT"
if [[ $# -eq 1 ]]; then
  check_backend "$1"
  variant=$1
  out="$CSVOL_PUBLISH_DIR/$1"
  backends=(-p:CsvolBackends="$1")
else
  variant=all
  out="$CSVOL_PUBLISH_DIR"
  backends=()
fi
binary="$out/csvol"
sources=(src Directory.Build.props Directory.Packages.props global.json)

if [[ -x $binary && ${CSVOL_FORCE_PUBLISH:-} != 1 ]] && [[ -z $(find "${sources[@]}" -newer "$binary" -type f \
  -not -path '*/bin/*' -not -path '*/obj/*' -print -quit) ]]; then
  say "$binary is up to date"
  exit 0
fi

# Each backend set has its own intermediate and output directories: a publish with other backends would otherwise
# reuse (or overwrite) the restore and compile results of this one. The binary is published to a staging directory
# and only it moved into place, since artifacts/publish holds the other variants' directories too.
work="$CSVOL_REPO_ROOT/artifacts/publish-work/$variant"
# The binary is stamped with the time the build started, not ended: a source edited during the build is then newer
# than the binary and the next run publishes again.
stamp="$(mktemp)"
trap 'rm -f "$stamp"' EXIT
say "publishing csvol ($variant backends) to $out"
rm -rf "$work/out"
dotnet publish src/Csvol -c Release -r linux-x64 -o "$work/out" "${backends[@]}" \
  -p:BaseIntermediateOutputPath="$work/obj/" -p:BaseOutputPath="$work/bin/" \
  -p:ContinuousIntegrationBuild=true -nologo -v quiet
[[ -x $work/out/csvol ]] || die "dotnet publish did not produce $work/out/csvol"
# Only the binary belongs in the image; anything else would just enlarge the build context.
mkdir -p "$out"
mv -f "$work/out/csvol" "$binary"
rm -rf "$work/out"
touch -r "$stamp" "$binary"
say "published $binary ($(du -h "$binary" | cut -f1))"
