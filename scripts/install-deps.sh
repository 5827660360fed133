#!/usr/bin/env bash
# Installs the Debian 12 packages Veil's build, tests, benchmarks and fuzzing use (DESIGN.md section 6, as far
# as the code uses them so far). Idempotent: when everything is present it only checks and exits.
# Runs as root, or through sudo when available.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev              # libFuzzer targets and the sanitizer runtime for them
  lld                                      # a faster linker for the many test binaries (VEIL_LLD)
  clang-format
  # libraries
  libabsl-dev                              # Status/StatusOr, strings, containers, synchronization
  libssl-dev                               # OpenSSL 3: the crypto module
  libsqlite3-dev                           # the workspace metadata and key store
  libpq-dev                                # PostgreSQL client: external tables and the DP push-down
  libargon2-dev                            # Argon2id: the master key from a passphrase
  libcli11-dev                             # the veil command line
  nlohmann-json3-dev                       # --json output
  libvectorscan-dev                        # PII: multi-pattern prefilter (Hyperscan API, portable fork)
  libre2-dev                               # PII: linear-time validation regexes (no catastrophic backtracking)
  libphonenumber-dev                       # PII: phone number parsing and validation
  libdcmtk-dev                             # DICOM: reading and writing files for `veil dicom deid`
  libeigen3-dev                            # ML: dense linear algebra for the models and DP-SGD
  libgrpc++-dev libprotobuf-dev            # FL: the coordinator/client transport (gRPC, mutual TLS)
  protobuf-compiler protobuf-compiler-grpc # FL: protoc and grpc_cpp_plugin for src/veil/fl/*.proto
  iproute2                                 # FL: ip netns + veth for the multi-host test
  graphviz                                 # governance: `veil catalog graph` draws the data map with dot
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  sqlite3                                  # the baseline the CSV benchmark is measured against
  postgresql                               # the throwaway server of the push-down tests (scripts/pg-test-server.sh)
  dcmtk                                    # dcmdump: the DICOM tests check that every output file parses
  libgdcm-tools                            # gdcmanon: the comparison in docs/anonymization.md (scripts/)
  python3                                  # small checks in the walkthrough (examples/demo.sh, examples/loan/run.sh)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else  # -n: fail rather than wait for a password
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
