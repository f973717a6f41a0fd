#!/bin/sh
# Make the local base images, once:
#   localhost/audiotext-base:SUITE        debootstrap --variant=minbase of the
#       machine's Debian release, from the apt source the machine already uses,
#       trimmed like the official slim images. Final stages start from it.
#   localhost/audiotext-build-base:SUITE  the same plus this machine's CA bundle
#       (TLS is intercepted here, and pip in the builder stages must trust it).
#       Only builder stages start from it, so no final image carries that CA.
#       The bundle has a path of its own: installing ca-certificates in a build
#       step regenerates /etc/ssl/certs/ca-certificates.crt.
# Both are imported with `podman import` and kept in the project's storage;
# the debootstrap tarball is cached under .images/cache/.
set -eu
. "$(dirname "$0")/common.sh"

CA_BUNDLE=${AUDIOTEXT_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TARBALL="$IMAGES_DIR/cache/$DEBIAN_SUITE-minbase.tar"

# The first deb URI of the machine's apt configuration (deb822 or one-line).
host_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ {print $2; exit}' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' "$f"
    done
}

make_tarball() {
    mirror=$(host_mirror | grep -v -- '-security' | head -n1)
    [ -n "$mirror" ] || die "no apt source configured on this machine"
    rootfs="$IMAGES_DIR/cache/rootfs.$$"
    rm -rf "$rootfs"
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase $DEBIAN_SUITE (this takes a few minutes once)"
    debootstrap --variant=minbase --merged-usr "$DEBIAN_SUITE" "$rootfs" "$mirror" >&2 \
        || die "debootstrap failed"

    # The machine's own apt sources and transport settings, so that apt-get in
    # a build step reaches the same archive the machine does.
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
    cp /etc/apt/sources.list.d/*.list "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
    grep -hE '^Acquire::[A-Za-z:-]+ +"[^"]*";$' /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null \
        > "$rootfs/etc/apt/apt.conf.d/90host-acquire" || true

    # Slim, like the official images: no docs, man pages or translations, no
    # recommends, no package caches.
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/90slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
    cat > "$rootfs/etc/apt/apt.conf.d/90slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"* "$rootfs/usr/share/locale/"* \
        "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin \
        "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/log/"*.log "$rootfs/var/log/apt/"* \
        "$rootfs/var/cache/ldconfig/aux-cache"
    : > "$rootfs/etc/machine-id"
    printf '%s\n' "$DEBIAN_SUITE" > "$rootfs/etc/hostname"

    tar --numeric-owner --xattrs -C "$rootfs" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$rootfs"
    trap - EXIT
}

if ! "$PODMAN" image exists "$BASE_IMAGE"; then
    [ -s "$TARBALL" ] || make_tarball
    log "importing $BASE_IMAGE"
    "$PODMAN" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        "$TARBALL" "$BASE_IMAGE" >/dev/null
fi

# The build base follows the machine's CA bundle and this recipe: it is
# remade when either changes.
ctx="$IMAGES_DIR/cache/build-base-context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
cat > "$ctx/Containerfile" <<CF
FROM $BASE_IMAGE
COPY ca-certificates.crt /etc/ssl/build-ca-bundle.crt
ENV SSL_CERT_FILE=/etc/ssl/build-ca-bundle.crt \\
    PIP_CERT=/etc/ssl/build-ca-bundle.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/build-ca-bundle.crt
CF
recipe=$( (cat "$ctx/Containerfile" "$ctx/ca-certificates.crt"; "$PODMAN" image inspect \
    --format '{{.Id}}' "$BASE_IMAGE") | sha256sum | cut -c1-64)
have=$("$PODMAN" image inspect --format '{{index .Config.Labels "io.audiotext.recipe"}}' \
    "$BUILD_BASE_IMAGE" 2>/dev/null || true)
if [ "$have" != "$recipe" ]; then
    log "making $BUILD_BASE_IMAGE with this machine's CA bundle"
    echo "LABEL io.audiotext.recipe=$recipe" >> "$ctx/Containerfile"
    "$PODMAN" build --quiet --network=none -t "$BUILD_BASE_IMAGE" "$ctx" >/dev/null
fi
rm -rf "$ctx"
