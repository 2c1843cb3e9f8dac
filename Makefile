.PHONY: dev test build fuzz

# Run a whole local federation (4 members, the real root zone) on loopback.
dev:
	go run ./cmd/commonroot dev

# The whole test suite; as root it installs the Debian judges it needs.
test:
	./scripts/test

build:
	go build -o bin/commonroot ./cmd/commonroot
