# Shared settings for the hack/images scripts; sourced, not run.
# Everything podman keeps for this project lives under .images/ (git-ignored)
# and a per-checkout directory under /run, so it never mixes with the host's
# podman configuration or with another checkout.

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGES_DIR="$ROOT/.images"
PODMAN="$IMAGES_DIR/podman"
# State that must not survive a reboot (locks, container state) goes on /run.
RUN_DIR="/run/audiotext-images-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"

DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
BASE_IMAGE="localhost/audiotext-base:$DEBIAN_SUITE"
BUILD_BASE_IMAGE="localhost/audiotext-build-base:$DEBIAN_SUITE"
IMAGE_TAG=${IMAGE_TAG:-dev}

# The project's network: a subnet and bridge of its own, so a leftover bridge
# of another podman setup on the default subnet cannot shadow its routes.
NETWORK_NAME=audiotext
NETWORK_SUBNET=${AUDIOTEXT_IMAGES_SUBNET:-10.213.47.0/24}
NETWORK_BRIDGE=audiotext0

# Resource limits for containers and build steps: podman's defaults exceed
# the hard limits of these machines, and runc then fails to start anything.
ULIMITS="nofile=20000:20000 nproc=32768:32768"

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }
