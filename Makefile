.PHONY: build run test chaos bench fuzz fmt lint clean

# helm and promtool, once scripts/ops-tools.sh has built them (.ci/run does),
# are found by make test too: internal/opstest skips without them, and fails
# when CI is set.
export PATH := $(or $(GES_TOOLS_DIR),$(HOME)/.cache/ges-tools/bin):$(PATH)

build:
	go build ./...

# The whole platform on this machine, in the foreground; see scripts/run.sh.
run:
	bash scripts/run.sh

test:
	go vet ./... && go test -race -count=1 -timeout 25m ./...

# The full fault-injection suite: three nodes under load, every fault at full
# length (about 25 minutes). make test runs its short version.
chaos:
	GES_CHAOS=full go test -race -count=1 -timeout 30m -v -run . ./internal/faulttest/

# The benchmark report on the real binaries, without -race (under 15
# minutes): BENCH=burst,idle picks sections, BENCH_JSON the JSON copy.
BENCH_JSON ?= .run/bench/last.json
bench:
	GES_BENCH=1 BENCH_JSON=$(abspath $(BENCH_JSON)) go test -count=1 -timeout 60m -run TestReport -v ./internal/bench/

# Every fuzz target, one after another, each for FUZZTIME (make fuzz
# FUZZTIME=60s). New findings land in the package's testdata/fuzz.
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

fmt:
	gofmt -w .

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

# Stops what make run left running and deletes .run/ (its databases included).
clean:
	bash scripts/run.sh clean
