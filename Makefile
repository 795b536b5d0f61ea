# csvol: build, test, package and install the Docker volume plugin. Run as root; see README.md.
BACKEND ?= local
BACKENDS := local nfs ebs azuredisk

.PHONY: build test bench plugin install uninstall clean check-backend

build:
	dotnet build VolumeDriver.sln -c Release

test:
	scripts/test.sh

# Not part of test: ~10 minutes, and its figures are for reading, not for passing.
bench:
	bench/run.sh

check-backend:
	@case " $(BACKENDS) " in *" $(BACKEND) "*) ;; *) echo "BACKEND=$(BACKEND) is not one of: $(BACKENDS)" >&2; exit 1;; esac

plugin: check-backend
	scripts/build-plugin.sh $(BACKEND)

install: check-backend
	scripts/install.sh $(BACKEND)

uninstall: check-backend
	scripts/uninstall.sh $(BACKEND)

clean:
	rm -rf artifacts plugin/local plugin/nfs plugin/ebs plugin/azuredisk
	dotnet clean VolumeDriver.sln -v quiet -nologo
