#!/bin/sh
# Builds the dev driver of scripts/dev/pii_names_check.py against build/names (run from the repository root).
set -e
cmake --build build/names --target veil_pii_names
g++ -O2 -std=c++20 -Isrc scripts/dev/pii_names_dev.cc build/names/src/veil/pii/libveil_pii_names.a \
  build/names/src/veil/pii/libveil_pii_names_build.a \
  $(pkg-config --libs absl_strings absl_hash absl_raw_hash_set absl_status absl_statusor) -o build/names/pii_names_dev
