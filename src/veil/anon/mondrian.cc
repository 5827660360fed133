// Mondrian (mondrian.h). Being implemented (issue 6).
#include "veil/anon/mondrian.h"

namespace veil::anon {

absl::StatusOr<MondrianResult> Mondrian(const table::Table&, std::span<const std::string>,
                                        const MondrianOptions&) {
  return absl::UnimplementedError("Mondrian: not implemented yet");
}

absl::StatusOr<table::Table> ApplyMondrian(const table::Table&, const MondrianResult&) {
  return absl::UnimplementedError("ApplyMondrian: not implemented yet");
}

}  // namespace veil::anon
