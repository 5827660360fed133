// Hexadecimal encoding of bytes: the one codec for hashes, ids and keys in Veil's text formats.
//
// Thread safety: pure functions.
#ifndef VEIL_BASE_HEX_H_
#define VEIL_BASE_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace veil::base {

// Lower-case hex, two digits per byte.
std::string HexEncode(std::span<const uint8_t> bytes);

// Decodes exactly out.size() bytes from `hex` (2 * out.size() digits, upper or lower case). Returns false,
// leaving `out` unspecified, on a wrong length or a non-hex character. Callers that need one canonical
// spelling check for lower case themselves.
bool HexDecode(std::string_view hex, std::span<uint8_t> out);

}  // namespace veil::base

#endif  // VEIL_BASE_HEX_H_
