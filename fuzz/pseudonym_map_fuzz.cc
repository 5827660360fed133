// libFuzzer target for the sealed pseudonym map (anon/pseudonymizer.h; DESIGN.md 5.11). The first input byte
// picks what the rest is: bit 0 clear, a sealed map opened under a fixed key and context (PseudonymMap::Open:
// magic, version, AES-256-GCM); bit 0 set, a payload given straight to the strict payload parser
// (ParsePayload), which authentication otherwise shields from the fuzzer.
//
// Properties checked beyond "no crash, no sanitizer report, no huge allocation":
//   - every error is DataLoss;
//   - a payload the parser accepts is canonical: serializing the map gives back exactly the input, every
//   entry's
//     placeholder maps back to its original, and Restore of all placeholders runs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "veil/anon/pseudonymizer.h"
#include "veil/base/secret_bytes.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  using veil::anon::PseudonymMap;
  if ((data[0] & 1) == 0) {
    static const veil::base::SecretBytes* key = [] {
      auto* k = new veil::base::SecretBytes(32);
      for (size_t i = 0; i < 32; ++i) k->data()[i] = static_cast<uint8_t>(i);
      return k;
    }();
    absl::StatusOr<PseudonymMap> map = PseudonymMap::Open(*key, rest, "fuzz");
    Check(map.ok() || absl::IsDataLoss(map.status()));
    return 0;
  }
  absl::StatusOr<PseudonymMap> map = PseudonymMap::ParsePayload(rest);
  if (!map.ok()) {
    Check(absl::IsDataLoss(map.status()));
    return 0;
  }
  Check(map->SerializePayload() == std::vector<uint8_t>(rest.begin(), rest.end()));
  std::string all;
  for (const PseudonymMap::Entry& e : map->entries()) {
    const std::string placeholder = PseudonymMap::Placeholder(e.type, e.number);
    const std::string* original = map->Original(placeholder);
    Check(original != nullptr && *original == e.original);
    all += placeholder;
  }
  Check(veil::anon::Restore(all, *map).restored == map->size());
  return 0;
}
