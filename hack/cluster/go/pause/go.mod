// The sandbox ("pause") program of the test cluster's node; no dependencies.
module audiotext.local/cluster/pause

go 1.24.0
