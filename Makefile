# csvol: build, test, package and install the Docker volume plugin. Run as root; see README.md.
BACKEND ?= local
# Buildable backends, from backends.list (the one list of them).
BACKENDS := $(shell awk '!/^\#/ && $$2 == "available" { print $$1 }' backends.list)

.PHONY: build test bench plugin install uninstall clean check-backend

build:
	dotnet build VolumeDriver.sln -c Release

test:
	scripts/test.sh

# Not part of test: ~10 minutes, and its figures are for reading, not for passing.
bench:
	bench/run.sh

check-backend:
	@case " $(BACKENDS) " in *" $(BACKEND) "*) ;; *) echo "BACKEND=$(BACKEND) is not one of: $(BACKENDS) (see backends.list)" >&2; exit 1;; esac

plugin: check-backend
	scripts/build-plugin.sh $(BACKEND)

install: check-backend
	scripts/install.sh $(BACKEND)

uninstall: check-backend
	scripts/uninstall.sh $(BACKEND)

clean:
	rm -rf artifacts $(addprefix plugin/,$(BACKENDS))
	dotnet clean VolumeDriver.sln -v quiet -nologo
