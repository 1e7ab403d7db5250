#!/usr/bin/env bash
# Builds the Debian package (make deb): ddrouter_<version>_amd64.deb in the repository root,
# with Debian's own tools: dpkg-shlibdeps for Depends:, dpkg-deb for the archive, lintian to
# check it (any error fails the build). The packaging sources are in deploy/debian/.
#
# Contents:
#   /usr/bin/ddrouter                      release build, Swift runtime linked statically, stripped
#   /usr/sbin/ddrouter-admin               deploy/ddrouter-admin
#   /lib/systemd/system/ddrouter.service   deploy/ddrouter.service
#   /etc/ddrouter/ddrouter.yaml            conffile: Config/ddrouter.yaml without its development
#                                          lines (password, store.dev_key) and with the
#                                          production defaults (port 5672, store path)
#   /usr/share/man/man1/ddrouter*.1.gz     from the ArgumentParser definitions (generate-manual)
#   /usr/share/man/man8/ddrouter-admin.8.gz
#   bash, zsh and fish completions         ddrouter --generate-completion-script
#   /usr/share/doc/ddrouter/               copyright, changelog, operations.md
#
# Variables: SWIFT (swift), DEB_MAINTAINER (default: the author of HEAD), DEB_OUT (.).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SWIFT="${SWIFT:-swift}"
out="${DEB_OUT:-.}"
work=var/deb
heading() { printf '\n==> %s\n' "$*"; }
fail() { echo "deb: $*" >&2; exit 1; }

missing=()
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v lintian >/dev/null || missing+=(lintian)
command -v man >/dev/null || missing+=(man-db)
((${#missing[@]} == 0)) || scripts/apt-install.sh "${missing[@]}"

heading "Release build: $SWIFT build -c release --static-swift-stdlib --product ddrouter (nice 10)"
nice -n 10 "$SWIFT" build -c release --static-swift-stdlib --product ddrouter
bin="$("$SWIFT" build -c release --static-swift-stdlib --show-bin-path)/ddrouter"
version="$("$bin" --version)"
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || fail "ddrouter --version printed '$version', not a Debian version"

# swift-argument-parser's generate-manual, the tool behind its GenerateManual plugin, built
# from the very checkout ddrouter links (so its --experimental-dump-help format matches).
# The plugin itself (`swift package generate-manual`) would build the whole package again
# in another configuration; the tool alone builds in about a minute, offline, once.
sap=.build/checkouts/swift-argument-parser
[[ -d "$sap" ]] || fail "$sap missing: build once (swift build) to resolve the dependencies"
sap_rev="$(git -C "$sap" rev-parse HEAD 2>/dev/null || echo unknown)"
tooldir="var/tools/generate-manual-$sap_rev"
genman="$tooldir/.build/release/generate-manual"
if [[ ! -x "$genman" ]]; then
    heading "Building generate-manual (swift-argument-parser $sap_rev)"
    rm -rf "$tooldir"
    mkdir -p var/tools
    cp -a "$sap" "$tooldir"
    chmod -R u+w "$tooldir"
    rm -rf "$tooldir/.build"
    (cd "$tooldir" && nice -n 10 "$SWIFT" build -c release --product generate-manual)
fi

heading "Staging $work/root"
root="$work/root"
rm -rf "$work"
mkdir -p "$root/DEBIAN"
install -D -m 0755 "$bin" "$root/usr/bin/ddrouter"
# Debian policy 10.1: binaries are stripped (the debug symbols would be a -dbgsym package).
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/ddrouter"
install -D -m 0755 deploy/ddrouter-admin "$root/usr/sbin/ddrouter-admin"
install -D -m 0644 deploy/ddrouter.service "$root/lib/systemd/system/ddrouter.service"

# The conffile: the commented development file, made a production one. Each edit must
# match exactly once, so a change of Config/ddrouter.yaml cannot slip through unedited.
conf="$root/etc/ddrouter/ddrouter.yaml"
install -D -m 0644 Config/ddrouter.yaml "$conf"
edit() { # PATTERN REPLACEMENT: one line matching PATTERN becomes REPLACEMENT (may be empty: deleted)
    local n
    n="$(grep -cE -- "$1" "$conf" || true)"
    [[ "$n" == 1 ]] || fail "Config/ddrouter.yaml: expected one line matching '$1', found $n"
    awk -v pat="$1" -v rep="$2" '$0 ~ pat { if (rep != "") print rep; next } { print }' "$conf" > "$conf.new"
    mv "$conf.new" "$conf"
}
edit '^  host: 127\.0\.0\.1 ' '  host: 127.0.0.1            # default 127.0.0.1: the broker (rabbitmq-server on this host)'
edit '^  port: 5682 ' '  port: 5672                 # default 5672 (5671 with broker.tls)'
edit '^  password: ddrouter-dev ' '  # password: SECRET, never here: the credential /etc/credstore/broker-password (LoadCredential=)'
edit '^  #  +# give the credential "broker-password"' ''
edit '^  path: var/ddrouter\.sqlite ' '  path: /var/lib/ddrouter/ddrouter.sqlite   # the unit sets DDROUTER_STORE_PATH to the same'
edit '^  # dev only: used when neither store\.key' '  # store.dev_key (development only) is refused under systemd: the key is the credential'
edit '^  # daemon logs a warning when it runs with it\.' '  # /etc/credstore/store-key, created by the package on installation.'
edit '^  dev_key: ' ''
grep -qE '^ *(password|dev_key|key):' "$conf" && fail "the packaged ddrouter.yaml still carries a secret"
chmod 0644 "$conf"
cp deploy/debian/conffiles "$root/DEBIAN/conffiles"

heading "Man pages and completions from the ArgumentParser definitions"
man1="$root/usr/share/man/man1"
mkdir -p "$man1"
# The date of the commit, not of the build (reproducible builds).
mandate="$(git log -1 --format=%cd --date=format:%Y-%m-%d 2>/dev/null || date -u +%Y-%m-%d)"
"$genman" "$bin" --multi-page --date "$mandate" --section 1 --output-directory "$man1"
[[ -f "$man1/ddrouter.1" ]] || fail "generate-manual wrote no ddrouter.1"
# A subcommand's page is named `.Nm "ddrouter audit citizen"`, which whatis/apropos cannot
# parse (lintian bad-whatis-entry): the NAME section gets the page's own name
# (ddrouter.audit.citizen, as `man ddrouter.audit.citizen`), the synopsis keeps the command.
for page in "$man1"/ddrouter.*.1; do
    awk 'BEGIN { named = 0 }
         !named && /^\.Nm "/ { cmd = substr($0, 5); name = cmd; gsub(/"/, "", name); gsub(/ /, ".", name)
                               print ".Nm " name; named = 1; next }
         named && $0 == ".Nm" { print ".Nm " cmd; next }
         { print }' "$page" > "$page.new"
    mv "$page.new" "$page"
done
install -D -m 0644 deploy/debian/ddrouter-admin.8 "$root/usr/share/man/man8/ddrouter-admin.8"
find "$root/usr/share/man" -type f -exec gzip -9n {} +
# bash-completion sources the file: no #! line (lintian bash-completion-with-hashbang).
"$bin" --generate-completion-script bash | sed '1{/^#!/d}' > "$work/bash"
"$bin" --generate-completion-script zsh > "$work/zsh"
"$bin" --generate-completion-script fish > "$work/fish"
install -D -m 0644 "$work/bash" "$root/usr/share/bash-completion/completions/ddrouter"
install -D -m 0644 "$work/zsh" "$root/usr/share/zsh/vendor-completions/_ddrouter"
install -D -m 0644 "$work/fish" "$root/usr/share/fish/vendor_completions.d/ddrouter.fish"

doc="$root/usr/share/doc/ddrouter"
install -D -m 0644 deploy/debian/copyright "$doc/copyright"
gzip -9n < docs/operations.md > "$doc/operations.md.gz"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
maintainer="${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || echo 'ddrouter maintainers <root@localhost>')}"
changedate="$(git log -1 --format=%cD 2>/dev/null || date -R)"
printf 'ddrouter (%s) bookworm; urgency=medium\n\n  * Built from git commit %s.\n\n -- %s  %s\n' \
    "$version" "$commit" "$maintainer" "$changedate" | gzip -9n > "$doc/changelog.gz"
install -D -m 0644 deploy/debian/lintian-overrides "$root/usr/share/lintian/overrides/ddrouter"
chmod 0644 "$doc"/*

for s in postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$root/DEBIAN/$s"; done

heading "Depends: dpkg-shlibdeps"
# dpkg-shlibdeps wants a source tree with debian/control; a minimal one in $work/src.
mkdir -p "$work/src/debian"
printf 'Source: ddrouter\n\nPackage: ddrouter\nArchitecture: amd64\n' > "$work/src/debian/control"
shlibs="$(cd "$work/src" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/ddrouter" 2>"$OLDPWD/$work/shlibdeps.err")" ||
    { cat "$work/shlibdeps.err" >&2; fail "dpkg-shlibdeps failed"; }
shlibs="${shlibs#shlibs:Depends=}"
[[ -n "$shlibs" ]] || fail "dpkg-shlibdeps found no library"
# ddrouter-admin and the unit need systemd (systemd-run, LoadCredential=, DynamicUser=;
# 247 or later for the credential store). The maintainer scripts' deb-systemd-invoke is in
# init-system-helpers, which is Essential: not named.
depends="$shlibs, systemd (>= 247)"
echo "$depends"

find "$root" -type d -exec chmod 0755 {} +
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's#  \./#  #') > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles"
size="$(du -k -s --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@MAINTAINER@/$maintainer/" -e "s/@INSTALLED_SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" deploy/debian/control.in > "$root/DEBIAN/control"
grep -q @ "$root/DEBIAN/control" && grep '@[A-Z_]*@' "$root/DEBIAN/control" && fail "unfilled field in control"

deb="$out/ddrouter_${version}_amd64.deb"
heading "dpkg-deb --build $deb"
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)" \
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

heading "lintian $deb"
# Errors fail the build; each warning kept is justified in deploy/debian/lintian-overrides.
lintian --fail-on error --display-info --tag-display-limit 0 "$deb"
echo "$deb" > "$work/deb-path"
heading "Built $deb"
