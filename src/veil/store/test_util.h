// Test helpers of veil::store (header-only; included by tests, never by the library).
#ifndef VEIL_STORE_TEST_UTIL_H_
#define VEIL_STORE_TEST_UTIL_H_

#include <string>

namespace veil::store::testing {

// SQL that undoes the last migration (schema version 10, the packed consent states): the triggers first,
// since a schema change after dropping only the table would find them naming a missing table.
inline constexpr char kDropAfterV9[] =
    "DROP TRIGGER consent_packed_inserted; DROP TRIGGER consent_packed_updated; "
    "DROP TRIGGER consent_packed_deleted; DROP TABLE consent_packed;";

// And the one before it (schema version 9, the change counter of consent_state).
inline const std::string kDropAfterV8 =
    std::string(kDropAfterV9) +
    "DROP TRIGGER consent_state_inserted; DROP TRIGGER consent_state_updated; "
    "DROP TRIGGER consent_state_deleted; DROP TABLE consent_state_changes;";

// SQL that takes a current workspace.db back to schema version 4 (the model registry) by dropping what the
// later migrations created, so that a test can go further back and check that opening migrates it. Keep it
// in step with kMetadataSchema (workspace.cc).
inline const std::string kDropAfterV4 =
    kDropAfterV8 +
    "DROP TABLE column_annotation; DROP TABLE processing_declaration; DROP TABLE taxonomy_key; "
    "DROP TABLE consent_event; DROP TABLE consent_state; DROP TABLE subject_restriction; "
    "DROP TABLE retention_rule; DROP TABLE legal_hold; ALTER TABLE subject DROP COLUMN ingested_ns; "
    "DROP TABLE dsr_step; DROP TABLE dsr_request;";

}  // namespace veil::store::testing

#endif  // VEIL_STORE_TEST_UTIL_H_
