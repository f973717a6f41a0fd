// Wrapper module for helm; build.sh adds helm.sh/helm/v3 at HELM_VERSION.
module audiotext.local/cluster/helm

go 1.24.0
