# Convenience wrapper around CMake. The two set-up commands of the README:
#   make run    install what is missing (Debian 12, as root), build, start the server
#   make test   install what is missing, build, run the whole test suite (ctest)
BUILD ?= build
WERROR ?= OFF
JOBS ?= $(shell nproc)
ARGS ?=
DEB_PACKAGES = build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev \
               libcurl4-openssl-dev zlib1g-dev libpq-dev \
               curl jq sqlite3 procps openssl tzdata
# test_metrics.sh checks every /metrics scrape with promtool (and scrapes with a real Prometheus);
# the PostgreSQL tests start their own throwaway cluster from Debian's server (tests/pg/pgctl.sh)
TEST_PACKAGES = prometheus postgresql

# test_browser.sh and test_dashboard.sh drive Debian's Chromium with puppeteer-core, and
# test_dashboard.sh runs axe-core in the page (tests/browser, from npm)
BROWSER_PACKAGES = chromium
BROWSER_STAMP = tests/browser/node_modules/.installed
# the OpenAPI checks (tests/contract): redocly lint and ajv, from npm
CONTRACT_STAMP = tests/contract/node_modules/.installed

.PHONY: deps test-deps build run test test-asan test-contended fuzz clean format install

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# what the test suite needs besides the build: Chromium, promtool (prometheus), a PostgreSQL
# server (postgresql) and the browser driver's npm packages
test-deps: deps $(BROWSER_STAMP) $(CONTRACT_STAMP)
	@missing=$$(for p in $(BROWSER_PACKAGES) $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	command -v node >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BROWSER_STAMP): tests/browser/package-lock.json
	@command -v npm >/dev/null || { SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }
	cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONTRACT_STAMP): tests/contract/package-lock.json
	@command -v npm >/dev/null || { SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }
	cd tests/contract && npm ci --no-audit --no-fund --loglevel=error
	touch $@

build: deps
	cmake -S . -B $(BUILD) -DSPAWNPOOL_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# the binary to $(PREFIX)/bin, its bash completion to
# $(PREFIX)/share/bash-completion/completions/spawnpool, the systemd unit to
# $(PREFIX)/lib/systemd/system, the sysusers.d snippet to $(PREFIX)/lib/sysusers.d and the
# default config to $(PREFIX)/etc/spawnpool/spawnpool.json (/etc/spawnpool for PREFIX=/usr;
# kept if present). CMake's install() rules; DESTDIR=/stage puts it all under /stage.
# The unit names the prefix's paths, so the prefix is set at configure time.
PREFIX ?= /usr/local
DESTDIR ?=
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# spawnpool-data exists first, so ARGS="--token-file spawnpool-data/token" (README) can be made
run: build
	@mkdir -p spawnpool-data
	./$(BUILD)/spawnpool serve $(ARGS)

# (the e2e tests mostly wait on their servers and jobs: more of them run at once than there
# are CPUs; test-contended runs them so under full CPU load too)
TEST_JOBS ?= 4
test: build test-deps
	cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS)

# The suite's PostgreSQL pass (pg_test_*) repeats every e2e test on the other store: under
# ASan and under contention only these of it run again (the cluster's own tests, and those
# that reach most of the store's PostgreSQL paths), to keep CI well inside its time.
PG_AGAIN = ^pg_test_(jobs|events|after|retry|keys|queues|schedules|notify|restart|drain|cluster|cluster_output|cluster_pg_restart|cluster_claims|cluster_holds|terminate_recovery|nodes)$$

# the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
test-asan: deps test-deps
	cmake -S . -B build-asan -DSPAWNPOOL_SANITIZE=ON -DSPAWNPOOL_WERROR=$(WERROR) >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS) -E '^pg_' && \
	    ctest --output-on-failure -j$(JOBS) -R '$(PG_AGAIN)'

# the whole suite again with every CPU kept busy (stress-ng, one hog per CPU, beside ctest):
# a test must wait for what the server reports, never for a fixed time, to pass here too
STRESS_CPUS ?= $(JOBS)
CONTENDED_JOBS ?= 4
test-contended: build test-deps
	@command -v stress-ng >/dev/null || { SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends stress-ng; }
	stress-ng --cpu $(STRESS_CPUS) --timeout 1800 --quiet & stress=$$!; \
	    trap 'kill $$stress 2>/dev/null; wait $$stress 2>/dev/null' EXIT INT TERM; \
	    cd $(BUILD) && ctest --output-on-failure -j$(CONTENDED_JOBS) -E '^pg_' && \
	    ctest --output-on-failure -j$(CONTENDED_JOBS) -R '$(PG_AGAIN)'

# every libFuzzer target for FUZZ_SECONDS each (clang, ASan + UBSan): tests/fuzz/run.sh
FUZZ_SECONDS ?= 60
fuzz:
	@dpkg-query -W -f='$${Status}\n' clang libclang-rt-14-dev 2>/dev/null | grep -c 'install ok installed' | \
	    grep -q 2 || { SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev; }
	FUZZ_JOBS=$(JOBS) bash tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz tests/browser/node_modules

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
