# Test cluster targets (see hack/cluster/README.md). Included by the top-level Makefile;
# also works alone: make -f hack/cluster.mk cluster-up
CLUSTER_HACK := $(dir $(lastword $(MAKEFILE_LIST)))cluster

.PHONY: cluster-build cluster-up cluster-down cluster-images

## cluster-build: build and cache the test cluster's binaries (a second run builds nothing)
cluster-build:
	@$(CLUSTER_HACK)/build.sh >/dev/null

## cluster-up: start the test cluster; writes .cluster/kubeconfig and .cluster/bin/{kubectl,helm}
cluster-up:
	@$(CLUSTER_HACK)/up.sh

## cluster-down: stop the test cluster and restore every machine setting it changed
cluster-down:
	@$(CLUSTER_HACK)/down.sh

## cluster-images: import the images `make images` built into the running cluster's node
cluster-images:
	@$(CLUSTER_HACK)/import-images.sh
