#!/bin/sh
# Build the AudioText images with the project's podman:
#   localhost/audiotext-api:TAG  localhost/audiotext-operator:TAG
#   localhost/audiotext-worker:TAG (CPU variant)
# from the local Debian base (made once by base.sh). Names of images to build
# may be given as arguments (api operator worker); default: all three.
# The layer cache makes a rebuild without changes take seconds.
set -eu
. "$(dirname "$0")/common.sh"

sh "$ROOT/hack/images/setup.sh"
sh "$ROOT/hack/images/base.sh"

# The package indexes pip uses on this machine, handed to the builds as build
# arguments (never written into a file or an image).
index_args=""
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
    value=$(printenv "$var" || true)
    if [ -z "$value" ]; then
        key=$(echo "$var" | sed 's/^PIP_//; s/_/-/g' | tr 'A-Z' 'a-z')
        value=$(pip config get "global.$key" 2>/dev/null || true)
    fi
    [ -n "$value" ] && index_args="$index_args --build-arg $var=$value"
done

revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)

ulimit_args=""
for u in $ULIMITS; do ulimit_args="$ulimit_args --ulimit $u"; done

# Everything a build reads, as one digest: the Dockerfile, the context that
# .dockerignore lets through, the build arguments and the bases. An image whose
# label carries the same digest is up to date and is not rebuilt at all (podman
# would take seconds per image just to hash its cached layers).
# An image with a context of its own (devservers) reads neither the project's sources nor
# its version, so only its Dockerfile and that context count.
inputs_digest() {  # dockerfile context
    {
        printf '%s\n' "$1" "$index_args"
        "$PODMAN" image inspect --format '{{.Id}}' "$BASE_IMAGE" "$BUILD_BASE_IMAGE"
        if [ "$2" != "$ROOT" ]; then
            sha256sum "$ROOT/$1"
            (cd "$2" && find . -type f | LC_ALL=C sort | xargs -d "\n" sha256sum)
        else
            printf '%s\n' "$version" "$revision"
            (cd "$ROOT" && find "$1" .dockerignore pyproject.toml README.md LICENSE src \
                hack/images/slim_venv.py -type f \
                ! -path '*/__pycache__/*' ! -name '*.py[cod]' ! -path '*.egg-info/*' 2>/dev/null \
                | LC_ALL=C sort | xargs -d "\n" sha256sum)
        fi
    } | sha256sum | cut -c1-64
}

build() {  # name dockerfile [context]
    start=$(date +%s)
    image="localhost/audiotext-$1:$IMAGE_TAG"
    context=${3:-$ROOT}
    digest=$(inputs_digest "$2" "$context")
    have=$("$PODMAN" image inspect --format '{{index .Config.Labels "io.audiotext.inputs"}}' \
        "$image" 2>/dev/null || true)
    if [ "$have" = "$digest" ]; then
        log "$image is up to date"
        return 0
    fi
    log "building localhost/audiotext-$1:$IMAGE_TAG"
    # RUN steps that fetch packages need the host network: outbound traffic
    # from the default bridge does not get through here.
    # shellcheck disable=SC2086
    "$PODMAN" build --network=host --layers $ulimit_args $index_args \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "BUILD_BASE_IMAGE=$BUILD_BASE_IMAGE" \
        --build-arg "VERSION=${version:-0.0.0}" \
        --build-arg "REVISION=$revision" \
        --label "io.audiotext.inputs=$digest" \
        -f "$ROOT/$2" -t "$image" "$context" \
        > "$IMAGES_DIR/build-$1.log" 2>&1 \
        || { tail -n 40 "$IMAGES_DIR/build-$1.log" >&2; die "build of $1 failed (log: .images/build-$1.log)"; }
    log "built $image in $(( $(date +%s) - start ))s"
}

# The development servers of values-dev.yaml (PostgreSQL, Redis and the MinIO that
# hack/minio/build.sh builds), for clusters that reach no registry.
build_devservers() {
    context="$IMAGES_DIR/devservers-context"
    rm -rf "$context"
    mkdir -p "$context"
    cp "$ROOT/hack/images/devservers/entrypoint.sh" "$context/"
    cp "$(bash "$ROOT/hack/minio/build.sh")" "$context/minio"
    build devservers hack/images/devservers/Dockerfile "$context"
}

targets=${*:-api operator worker}
for name in $targets; do
    case "$name" in
        api) build api api/Dockerfile ;;
        operator) build operator operator/Dockerfile ;;
        worker) build worker worker-image/Dockerfile ;;
        devservers) build_devservers ;;
        *) die "unknown image: $name (api, operator, worker, devservers)" ;;
    esac
done
