#!/usr/bin/env bash
# Publishes the self-contained csvol binary to artifacts/publish/csvol, skipping the publish when it is newer than every source.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need_cmd dotnet "the .NET SDK"
cd "$CSVOL_REPO_ROOT"
binary="$CSVOL_PUBLISH_DIR/csvol"
sources=(src Directory.Build.props Directory.Packages.props global.json)

if [[ -x $binary && ${CSVOL_FORCE_PUBLISH:-} != 1 ]] && [[ -z $(find "${sources[@]}" -newer "$binary" -type f \
  -not -path '*/bin/*' -not -path '*/obj/*' -print -quit) ]]; then
  say "$binary is up to date"
  exit 0
fi

say "publishing csvol to $CSVOL_PUBLISH_DIR"
rm -rf "$CSVOL_PUBLISH_DIR"
dotnet publish src/Csvol -c Release -r linux-x64 -o "$CSVOL_PUBLISH_DIR" -p:ContinuousIntegrationBuild=true -nologo -v quiet
[[ -x $binary ]] || die "dotnet publish did not produce $binary"
# Only the binary belongs in the image; anything else would just enlarge the build context.
find "$CSVOL_PUBLISH_DIR" -mindepth 1 -not -name csvol -exec rm -rf {} +
touch "$binary"
say "published $binary ($(du -h "$binary" | cut -f1))"
