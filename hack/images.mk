# Container images (issue 12), included by the top-level Makefile
# (`-include hack/*.mk`); also usable alone: make -f hack/images.mk images
#
#   make images          build localhost/audiotext-{api,operator,worker}:dev
#   make images-dev      also localhost/audiotext-devservers:dev (values-dev.yaml's servers)
#   make images-base     only the local Debian base images
#   make images-clean    remove the project's podman storage (.images/)
#
# The podman layer cache makes a rebuild without changes take seconds.

IMAGES_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

.PHONY: images images-dev images-base images-clean

images:
	sh $(IMAGES_ROOT)/hack/images/build.sh

images-dev:
	sh $(IMAGES_ROOT)/hack/images/build.sh api operator worker devservers

images-base:
	sh $(IMAGES_ROOT)/hack/images/setup.sh
	sh $(IMAGES_ROOT)/hack/images/base.sh

images-clean:
	-$(IMAGES_ROOT)/.images/podman system reset --force
	rm -rf $(IMAGES_ROOT)/.images
