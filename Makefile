# vballoon: top-level build, tests, demo and benchmark.
#   make          module/vballoon.ko (KDIR, else the running kernel's build
#                 tree, else the newest cached Debian kernel) and build/vbtrace
#   make demo     boot a guest and trace a balloon scenario live
#   make check    host unit tests and guest end-to-end tests
#   make bench    side-by-side performance against the in-tree driver
#   make check-debug    the e2e tests on a KASAN/lockdep/kmemleak kernel
#   make check-flavours W=1 builds on every Debian flavour, tests on cloud/rt
#   make deb      Debian packages vballoon-dkms and vbtrace in build/deb/
#   make check-distro  install, use and purge them in a Debian 12 guest
# KSERIES=6.1|6.12 picks the guest kernel for demo, check and bench.

KSERIES ?= 6.1
ROOT := $(CURDIR)
BUILD := $(ROOT)/build
FETCH := $(ROOT)/scripts/fetch-kernel.sh

# Folder of the unpacked guest kernel; fetched on first use only.
guest_kernel = $(shell $(FETCH) $(KSERIES))
abi_of = $(notdir $(1))
headers_of = $(1)/usr/src/linux-headers-$(call abi_of,$(1))

# Debian's interpreter, which python3-pytest installs into.
PYTHON := /usr/bin/python3
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build

.PHONY: all module vbtrace guest guest-module deps unit fuzz install e2e check \
	demo bench clean check-debug check-flavours deb check-distro

all: module vbtrace

# `make` for a user: the kernel they build for.
module:
	@if [ -n "$(KDIR)" ]; then \
		$(MAKE) -C module KDIR=$(KDIR); \
	elif [ -d $(RUNNING_KDIR) ]; then \
		$(MAKE) -C module KDIR=$(RUNNING_KDIR); \
	else \
		k=$$($(FETCH) $(KSERIES)) && \
		$(MAKE) -C module KDIR=$$k/usr/src/linux-headers-$$(basename $$k) BTF_BASE=$$k/vmlinux; \
	fi

# One CO-RE binary for every guest: vmlinux.h comes from the 6.1 kernel's BTF.
vbtrace:
	$(MAKE) -C tools BUILD=$(BUILD)

# Everything a guest needs, built for the guest kernel into build/<abi>/.
guest: guest-module vbtrace

guest-module:
	@k=$(guest_kernel) && $(ROOT)/scripts/build-module.sh $$k $(BUILD)/$$(basename $$k)

deps:
	@$(ROOT)/scripts/deps.sh

unit:
	$(MAKE) -C tests/unit run

fuzz:
	$(MAKE) -C tests/fuzz run

install:
	$(MAKE) -C tools install BUILD=$(BUILD)

e2e: guest
	VB_KSERIES=$(KSERIES) $(ROOT)/scripts/run-e2e.sh

check: deps
	@$(ROOT)/scripts/check.sh $(KSERIES)

# The debug kernel is built on first use (about 15 min, cached in .cache/).
check-debug:
	@$(ROOT)/scripts/check-debug.sh

check-flavours:
	@$(ROOT)/scripts/check-flavours.sh

demo: deps guest
	VB_KSERIES=$(KSERIES) $(PYTHON) $(ROOT)/demo/demo.py

bench: deps guest
	VB_KSERIES=$(KSERIES) $(PYTHON) $(ROOT)/bench/run.py $(BENCH_ARGS)

deb: deps
	@$(ROOT)/packaging/mkdeb.sh $(BUILD)/deb $(call guest_kernel)/vmlinux

check-distro: deb
	@$(ROOT)/tests/distro/run.sh $(BUILD)/deb

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C module clean KDIR=$(RUNNING_KDIR) 2>/dev/null
