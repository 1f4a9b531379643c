#!/usr/bin/env bash
# Fetches and builds the client-library workloads that the integration tests
# run against redkube (tests/clients/): go-redis (Go module proxy), ioredis
# (npm), Jedis and Lettuce (Maven Central). redis-py comes from Debian (install-deps.sh).
# Versions are pinned in go.mod/go.sum, package-lock.json and pom.xml.
set -euo pipefail
cd "$(dirname "$0")/../tests/clients"
echo "== client libraries: go-redis, ioredis, Jedis, Lettuce"
(cd go && go build -o bin/workload .)
(cd node && npm ci --no-audit --no-fund --silent)
(cd java && mvn -q -B package)
