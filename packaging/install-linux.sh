#!/usr/bin/env bash
# Install a built bundle for the current user: program, menu entry, icons, .persona file type.
#   packaging/install-linux.sh dist/persona-studio
# Undo with: packaging/install-linux.sh --uninstall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
id=studio.persona.PersonaStudio
data="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/persona-studio"
bin="$HOME/.local/bin"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$opt" "$bin/persona-studio" "$data/applications/$id.desktop" \
        "$data/metainfo/$id.metainfo.xml" "$data/mime/packages/persona-studio.xml"
    rm -f "$data"/icons/hicolor/*/apps/persona-studio.png
else
    bundle="${1:?give the built bundle folder, e.g. dist/persona-studio}"
    rm -rf "$opt" && mkdir -p "$opt" "$bin" && cp -a "$bundle/." "$opt/"
    ln -sfn "$opt/persona-studio" "$bin/persona-studio"
    install -Dm644 "$here/$id.desktop" "$data/applications/$id.desktop"
    sed -i "s|^Exec=persona-studio|Exec=$opt/persona-studio|" "$data/applications/$id.desktop"
    install -Dm644 "$here/$id.metainfo.xml" "$data/metainfo/$id.metainfo.xml"
    install -Dm644 "$here/persona-studio-mime.xml" "$data/mime/packages/persona-studio.xml"
    for icon in "$root"/resources/icons/hicolor/*/apps/persona-studio.png; do
        size="$(basename "$(dirname "$(dirname "$icon")")")"
        install -Dm644 "$icon" "$data/icons/hicolor/$size/apps/persona-studio.png"
    done
fi
# refresh the caches when the tools are there (they are on desktop systems)
command -v update-mime-database > /dev/null && update-mime-database "$data/mime" || true
command -v update-desktop-database > /dev/null && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache > /dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "done"
