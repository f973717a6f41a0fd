# The browser tests' accessibility checker: axe-core from the npm registry, cached, unpacked
# into the virtual environment (the web app itself loads nothing from npm).
AXE_VERSION := 4.10.3
AXE := $(VENV)/share/audiotext/axe-core-$(AXE_VERSION).min.js
AXE_CACHE := $(HOME)/.cache/audiotext/npm

test-prereqs: $(AXE)

$(AXE):
	@mkdir -p $(AXE_CACHE) $(dir $@)
	@test -f $(AXE_CACHE)/axe-core-$(AXE_VERSION).tgz || \
		(cd $(AXE_CACHE) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null)
	tar -xzf $(AXE_CACHE)/axe-core-$(AXE_VERSION).tgz -O package/axe.min.js > $@.part
	@mv $@.part $@
