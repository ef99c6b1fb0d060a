.PHONY: build run test chaos fmt lint clean

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

fmt:
	gofmt -w .

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

# Stops what make run left running and deletes .run/ (its databases included).
clean:
	bash scripts/run.sh clean
