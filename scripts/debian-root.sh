#!/usr/bin/env bash
# A clean Debian 12 (bookworm) root made with debootstrap, for make package-test and
# make systemd-test. The mirror is the one this machine's apt uses, read at run time from
# /etc/apt/sources.list.d/*.sources (deb822) or /etc/apt/sources.list (DEBIAN_MIRROR
# overrides it); no mirror is written into any file of the repository.
#   scripts/debian-root.sh mirror          print the mirror
#   scripts/debian-root.sh tarball         print the path of the cached minbase root (a tar
#                                          file under var/debian-root/), making it if missing
#   scripts/debian-root.sh unpack DIR      a fresh root in DIR from that tarball
# The tarball is made once (debootstrap takes a few minutes) and reused; delete
# var/debian-root/ to make a new one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
suite=bookworm
cache=var/debian-root
tarball="$cache/$suite-minbase.tar"
fail() { echo "debian-root: $*" >&2; exit 1; }

mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local f m=""
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        # deb822 stanzas: the first enabled "Types: deb" one whose Suites name the suite.
        m="$(awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
            { t = ""; u = ""; s = ""; off = 0
              for (i = 1; i <= NF; i++) {
                if ($i ~ /^Types:/) t = " " substr($i, 7) " "
                else if ($i ~ /^URIs:/) u = substr($i, 6)
                else if ($i ~ /^Suites:/) s = " " substr($i, 8) " "
                else if ($i ~ /^Enabled:[ \t]*no/) off = 1 }
              gsub(/\t/, " ", t); gsub(/\t/, " ", s)
              if (!off && t ~ / deb / && s ~ (" " suite " ")) { split(u, a, /[ \t]+/); for (j in a) if (a[j] != "") { print a[j]; exit } } }' "$f")"
        [[ -n "$m" ]] && break
    done
    if [[ -z "$m" && -r /etc/apt/sources.list ]]; then
        # one-line format: deb [options] URI SUITE COMPONENTS...
        m="$(awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
             if ($(i + 1) == suite) { print $i; exit } }' /etc/apt/sources.list)"
    fi
    [[ -n "$m" ]] || fail "no '$suite' mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list (set DEBIAN_MIRROR)"
    echo "${m%/}"
}

make_tarball() {
    [[ -f "$tarball" ]] && return
    command -v debootstrap >/dev/null || scripts/apt-install.sh debootstrap >&2
    local m dir="$cache/build"
    m="$(mirror)"
    echo "==> debootstrap --variant=minbase $suite (mirror from apt's sources: $m); once, cached in $tarball" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    debootstrap --variant=minbase "$suite" "$dir" "$m" >&2 ||
        { tail -20 "$dir/debootstrap/debootstrap.log" >&2 2>/dev/null || true; fail "debootstrap failed"; }
    # apt inside the root uses the same mirror as the host.
    printf 'deb %s %s main\n' "$m" "$suite" > "$dir/etc/apt/sources.list"
    chroot "$dir" apt-get clean
    tar -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
}

case "${1:-}" in
    mirror) mirror ;;
    tarball) make_tarball; echo "$tarball" ;;
    unpack)
        [[ -n "${2:-}" ]] || fail "unpack needs a directory"
        make_tarball
        rm -rf "$2"; mkdir -p "$2"
        tar -C "$2" -xf "$tarball"
        ;;
    *) fail "usage: $0 mirror | tarball | unpack DIR" ;;
esac
