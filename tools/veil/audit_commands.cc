// veil audit log | checkpoint | verify | proof | consistency | verify-proof: the audit trail for the owner
// and the auditor (docs/audit.md). Reading the trail is gated (owner or auditor) but not itself audited.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/veil/cli.h"
#include "veil/audit/audit_log.h"
#include "veil/audit/checkpoint.h"
#include "veil/audit/proof.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/gov/session.h"

namespace veil::cli {
namespace {

struct AuditArgs {
  uint64_t since = 0;
  uint64_t limit = UINT64_MAX;
  std::string output;
  std::string against;
  std::string old_checkpoint;
  uint64_t seq = 0;
  uint64_t old_size = 0;
  uint64_t size = 0;  // 0: the current size
  std::string proof_file;
};

// A checkpoint file, parsed and its signature checked against the workspace's audit key.
absl::StatusOr<audit::SignedCheckpoint> LoadCheckpoint(const std::string& path, const audit::AuditLog& log) {
  VEIL_ASSIGN_OR_RETURN(std::string text, crypto::DefaultEnv().ReadFileToString(path));
  absl::StatusOr<audit::SignedCheckpoint> cp = audit::ParseAndVerifyCheckpoint(text, log.public_key());
  if (!cp.ok()) return absl::Status(cp.status().code(), absl::StrCat(path, ": ", cp.status().message()));
  return cp;
}

absl::Status RunLog(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditRead));
  VEIL_ASSIGN_OR_RETURN(std::vector<audit::AuditEntry> entries, log->ReadEntries(args.since, args.limit));
  if (global.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const audit::AuditEntry& e : entries) list.push_back(audit::AuditEntryToJson(e));
    PrintJson({{"size", log->size()}, {"entries", list}});
  } else if (!global.quiet) {
    for (const audit::AuditEntry& e : entries) std::cout << audit::AuditEntryToText(e) << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunCheckpoint(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditCheckpoint));
  VEIL_ASSIGN_OR_RETURN(std::string note, log->Checkpoint());
  if (!args.output.empty()) VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(args.output, note));
  if (global.json) {
    PrintJson({{"size", log->size()}, {"root", base::HexEncode(log->root())}, {"checkpoint", note}});
  } else if (args.output.empty()) {
    std::cout << note;  // the note itself, for a witness to keep (even with --quiet)
  } else if (!global.quiet) {
    std::cout << "Signed checkpoint of " << WithThousands(static_cast<int64_t>(log->size()))
              << " entries written to " << args.output << "; give it to a witness outside this machine\n";
  }
  return absl::OkStatus();
}

absl::Status RunVerify(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditRead));
  std::optional<audit::SignedCheckpoint> witness;
  if (!args.against.empty()) {
    VEIL_ASSIGN_OR_RETURN(std::string text, crypto::DefaultEnv().ReadFileToString(args.against));
    absl::StatusOr<audit::SignedCheckpoint> cp = audit::ParseCheckpoint(text);
    if (!cp.ok())
      return absl::Status(cp.status().code(), absl::StrCat(args.against, ": ", cp.status().message()));
    witness = *std::move(cp);
  }
  VEIL_ASSIGN_OR_RETURN(audit::AuditVerifyReport report, log->Verify(witness));
  if (global.json) {
    PrintJson({{"ok", true},
               {"entries", report.entries},
               {"root", base::HexEncode(report.root)},
               {"checkpoints", report.checkpoints},
               {"witness_size", report.witness_size}});
  } else if (!global.quiet) {
    std::cout << "Audit log intact: " << WithThousands(static_cast<int64_t>(report.entries))
              << " entries re-hashed, tree head " << base::HexEncode(report.root).substr(0, 16) << "…, "
              << report.checkpoints << " signed checkpoint(s) verified\n";
    if (witness) {
      std::cout << "  consistent with the witness checkpoint of "
                << WithThousands(static_cast<int64_t>(report.witness_size)) << " entries (" << args.against
                << ")\n";
    }
  }
  return absl::OkStatus();
}

void PrintProof(const std::string& text, const AuditArgs& args, const GlobalOptions& global) {
  if (global.json) {
    PrintJson({{"proof", text}});
  } else if (args.output.empty()) {
    std::cout << text;
  } else if (!global.quiet) {
    std::cout << "Proof written to " << args.output << "; check it with: veil audit verify-proof "
              << args.output << " --against CHECKPOINT\n";
  }
}

absl::Status RunProof(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditRead));
  const uint64_t size = args.size == 0 ? log->size() : args.size;
  VEIL_ASSIGN_OR_RETURN(audit::LogInclusionProof proof, log->InclusionProof(args.seq, size));
  VEIL_RETURN_IF_ERROR(audit::VerifyInclusionProof(proof));  // never hand out a proof that does not check
  const std::string text = audit::FormatInclusionProof(proof);
  if (!args.output.empty()) VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(args.output, text));
  PrintProof(text, args, global);
  return absl::OkStatus();
}

absl::Status RunConsistency(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditRead));
  const uint64_t size = args.size == 0 ? log->size() : args.size;
  VEIL_ASSIGN_OR_RETURN(audit::LogConsistencyProof proof, log->ConsistencyProof(args.old_size, size));
  VEIL_RETURN_IF_ERROR(audit::VerifyConsistencyProof(proof));
  const std::string text = audit::FormatConsistencyProof(proof);
  if (!args.output.empty()) VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(args.output, text));
  PrintProof(text, args, global);
  return absl::OkStatus();
}

absl::Status VerifyProofText(const std::string& text, const AuditArgs& args, const audit::AuditLog& log_ref,
                             const GlobalOptions& global) {
  const audit::AuditLog* log = &log_ref;
  std::string what;
  if (absl::StartsWith(text, "veil audit inclusion proof")) {
    VEIL_ASSIGN_OR_RETURN(audit::LogInclusionProof proof, audit::ParseInclusionProof(text));
    if (args.against.empty()) {
      VEIL_RETURN_IF_ERROR(audit::VerifyInclusionProof(proof));
    } else {
      VEIL_ASSIGN_OR_RETURN(audit::SignedCheckpoint cp, LoadCheckpoint(args.against, *log));
      VEIL_RETURN_IF_ERROR(audit::VerifyInclusionProofAgainst(proof, cp.checkpoint));
    }
    what = absl::StrCat("entry ", proof.index, " is in the log of ", proof.tree_size, " entries");
  } else if (absl::StartsWith(text, "veil audit consistency proof")) {
    VEIL_ASSIGN_OR_RETURN(audit::LogConsistencyProof proof, audit::ParseConsistencyProof(text));
    if (args.against.empty() != args.old_checkpoint.empty()) {
      return absl::InvalidArgumentError(
          "a consistency proof is checked against two checkpoints: give both "
          "--old and --against, or neither");
    }
    if (args.against.empty()) {
      VEIL_RETURN_IF_ERROR(audit::VerifyConsistencyProof(proof));
    } else {
      VEIL_ASSIGN_OR_RETURN(audit::SignedCheckpoint old_cp, LoadCheckpoint(args.old_checkpoint, *log));
      VEIL_ASSIGN_OR_RETURN(audit::SignedCheckpoint new_cp, LoadCheckpoint(args.against, *log));
      VEIL_RETURN_IF_ERROR(audit::VerifyConsistencyProofAgainst(proof, old_cp.checkpoint, new_cp.checkpoint));
    }
    what = absl::StrCat("the log of ", proof.old_size, " entries is a prefix of the log of ", proof.new_size);
  } else {
    return absl::InvalidArgumentError(
        "not a proof: the first line must be \"veil audit inclusion proof v1\" or \"veil audit consistency "
        "proof v1\" (made by veil audit proof / veil audit consistency)");
  }
  const std::string trust = args.against.empty() ? " (path only: pass --against CHECKPOINT to tie it to a "
                                                   "signed tree head)"
                                                 : " (roots match the signed checkpoint(s))";
  if (global.json) {
    PrintJson({{"ok", true}, {"statement", what}, {"against_checkpoint", !args.against.empty()}});
  } else if (!global.quiet) {
    std::cout << "Proof verified: " << what << trust << "\n";
  }
  return absl::OkStatus();
}

// Checks a proof file: the path itself, and, given checkpoints, that its roots are the signed ones.
absl::Status RunVerifyProof(const AuditArgs& args, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(std::string text, crypto::DefaultEnv().ReadFileToString(args.proof_file));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(global));
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session->AuditLogFor(gov::Operation::kAuditRead));
  absl::Status status = VerifyProofText(text, args, *log, global);
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(args.proof_file, ": ", status.message()));
}

}  // namespace

void RegisterAudit(CLI::App& app, Cli& cli) {
  CLI::App* group = app.add_subcommand("audit", "Read, verify and prove the tamper-evident audit log");
  group->require_subcommand(1);
  auto args = std::make_shared<AuditArgs>();
  const auto bind = [&cli, args](CLI::App* cmd, absl::Status (*run)(const AuditArgs&, const GlobalOptions&)) {
    cmd->callback([&cli, args, run] { cli.action = [&cli, args, run] { return run(*args, cli.options); }; });
  };
  {
    CLI::App* cmd = group->add_subcommand("log", "Print the audit entries");
    cmd->add_option("--since", args->since, "First seq to print")->capture_default_str();
    cmd->add_option("--limit", args->limit, "At most this many entries");
    bind(cmd, RunLog);
  }
  {
    CLI::App* cmd =
        group->add_subcommand("checkpoint", "Sign the current tree head and print it for a witness");
    cmd->add_option("--output,-o", args->output, "Also write the checkpoint to this file");
    bind(cmd, RunCheckpoint);
  }
  {
    CLI::App* cmd = group->add_subcommand(
        "verify",
        "Recompute the Merkle tree, check every entry, checkpoint and signature (exit 4 if tampered)");
    cmd->add_option("--against", args->against, "A checkpoint kept by a witness: the log must extend it");
    bind(cmd, RunVerify);
  }
  {
    CLI::App* cmd = group->add_subcommand("proof", "Print the inclusion proof of an entry");
    cmd->add_option("seq", args->seq, "The entry's seq")->required();
    cmd->add_option("--size", args->size, "Tree size the proof is for (default: the current size)");
    cmd->add_option("--output,-o", args->output, "Write the proof to this file");
    bind(cmd, RunProof);
  }
  {
    CLI::App* cmd =
        group->add_subcommand("consistency", "Print the proof that an older tree is a prefix of a newer");
    cmd->add_option("old_size", args->old_size, "The older tree size")->required();
    cmd->add_option("--size", args->size, "The newer tree size (default: the current size)");
    cmd->add_option("--output,-o", args->output, "Write the proof to this file");
    bind(cmd, RunConsistency);
  }
  {
    CLI::App* cmd = group->add_subcommand("verify-proof", "Check an inclusion or consistency proof file");
    cmd->add_option("proof", args->proof_file, "The proof file")->required();
    cmd->add_option("--against", args->against, "Signed checkpoint of the proof's (newer) tree");
    cmd->add_option("--old", args->old_checkpoint,
                    "Signed checkpoint of the older tree (consistency proofs)");
    bind(cmd, RunVerifyProof);
  }
}

}  // namespace veil::cli
