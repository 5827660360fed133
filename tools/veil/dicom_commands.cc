// `veil dicom deid IN... -o OUTDIR`: de-identifies DICOM files by the PS3.15 Annex E Basic Application Level
// Confidentiality Profile and the options chosen with --option (src/veil/anon/dicom_deid.h).
//
// IN may be files or directories (searched recursively; files under OUTDIR are skipped). Each output goes to
// OUTDIR under the input's path relative to the directory given (a file given directly: its name), written
// atomically (temporary file, then rename); an input is never overwritten. Files are processed by --jobs
// threads (default: the number of cores), each with its own DCMTK objects. A file that is not DICOM or is
// corrupt is reported (path and reason, never a value from it) and skipped; the batch goes on, and the exit
// code is 2 at the end if any file failed.
//
// The key: when the workspace (--workspace, VEIL_WORKSPACE, default ./veil-workspace) exists, the key is
// derived from it (store::Workspace::DeriveKey("dicom deid v1")), so that UIDs and date shifts are the same
// in every run on that workspace (objects de-identified in different runs still reference each other);
// opening it goes through the gate (operation dicom.deid) and records an audit entry before any file is
// written. Without a workspace a fresh random key is drawn for the run (consistent within the run only), and
// the summary says so. The output directory is created only after the gate has allowed the run.
//
// A file whose Burned In Annotation (0028,0301) is YES gets a warning (stderr; in --json, "warnings": a list
// of {path, warnings}): its pixels may show identifying text, which Veil does not clean.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// DCMTK's configuration header must come first.
#include "dcmtk/config/osconfig.h"
// Then DCMTK itself.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dcmtk/oflog/oflog.h"
#include "tools/veil/cli.h"
#include "veil/anon/dicom_deid.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/gov/session.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kDicomKeyLabel[] = "dicom deid v1";

struct DeidArgs {
  std::vector<std::string> inputs;
  std::string out_dir;
  std::vector<std::string> options;
  int jobs = 0;
};

struct Job {
  std::string in;
  std::string out;
};

struct Failure {
  std::string path;
  std::string reason;
};

// Is `p` inside (or equal to) `dir`? Both canonical.
bool Under(const fs::path& p, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), p.begin(), p.end()).first == dir.end();
}

// The files to process, each with its output path. Inputs that do not exist are failures.
std::vector<Job> CollectJobs(const DeidArgs& args, const fs::path& out_dir, std::vector<Failure>& failures) {
  std::vector<Job> jobs;
  std::set<std::string> outputs;
  const auto add = [&](const fs::path& in, const fs::path& relative) {
    const std::string out = (out_dir / relative).lexically_normal().string();
    if (!outputs.insert(out).second) {
      failures.push_back({in.string(), "another input has the same output path " + out});
      return;
    }
    jobs.push_back({in.string(), out});
  };
  for (const std::string& input : args.inputs) {
    std::error_code ec;
    const fs::path in(input);
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(in, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory() && Under(fs::weakly_canonical(it->path()), out_dir)) {
          it.disable_recursion_pending();  // never read our own outputs
          continue;
        }
        if (it->is_regular_file()) files.push_back(it->path());
      }
      if (ec) failures.push_back({input, "cannot list the directory: " + ec.message()});
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) add(f, f.lexically_relative(in));
    } else if (fs::is_regular_file(in, ec)) {
      add(in, in.filename());
    } else {
      failures.push_back({input, "no such file or directory"});
    }
  }
  return jobs;
}

absl::Status RunDeid(const DeidArgs& args, Cli& cli) {
  const GlobalOptions& options = cli.options;
  // DCMTK's own log lines go to stderr by default; Veil reports errors itself.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  const absl::Time start = absl::Now();

  anon::DicomDeidOptions deid_options;
  for (const std::string& name : args.options) {
    VEIL_ASSIGN_OR_RETURN(anon::DicomOption o, anon::ParseDicomOption(name));
    deid_options.profile.Set(o);
  }
  VEIL_RETURN_IF_ERROR(deid_options.profile.Validate());
  if (args.jobs < 0) return absl::InvalidArgumentError("--jobs must be at least 1");

  // The output directory may not exist yet: it is created only once the gate has allowed the run, so that a
  // refused run leaves nothing behind. weakly_canonical resolves what exists of the path.
  std::error_code ec;
  const fs::path out_dir = fs::weakly_canonical(args.out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(args.out_dir, ": not a usable output path"));

  std::vector<Failure> failures;
  const std::vector<Job> jobs = CollectJobs(args, out_dir, failures);

  // The key.
  base::SecretBytes key;
  const bool from_workspace = crypto::DefaultEnv().FileExists(options.workspace);
  if (from_workspace) {
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(options));
    nlohmann::ordered_json params;
    params["command"] = "dicom deid";
    params["files"] = jobs.size();
    params["options"] = args.options;
    VEIL_ASSIGN_OR_RETURN(gov::GateDecision decision,
                          session->Authorize(gov::Operation::kDicomDeid, "", "", params));
    VEIL_ASSIGN_OR_RETURN(key, session->workspace().DeriveKey(kDicomKeyLabel));
    // The entry is durable before any output is written.
    VEIL_RETURN_IF_ERROR(
        session->Record(gov::Operation::kDicomDeid, "", "", decision, params, std::nullopt, {}));
  } else {
    VEIL_ASSIGN_OR_RETURN(key, crypto::RandomKey(32, crypto::SecureRandom()));
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<anon::DicomDeidentifier> deid,
                        anon::DicomDeidentifier::Create(key, deid_options));
  key.Reset();
  fs::create_directories(out_dir, ec);
  if (ec)
    return absl::InvalidArgumentError(
        absl::StrCat(args.out_dir, ": cannot create the output directory: ", ec.message()));

  // The pool: each thread takes the next file; results land in per-file slots.
  const int threads = std::max(
      1, std::min<int>(args.jobs > 0 ? args.jobs : static_cast<int>(std::thread::hardware_concurrency()),
                       static_cast<int>(std::max<size_t>(jobs.size(), 1))));
  std::vector<std::optional<std::string>> errors(jobs.size());
  std::vector<char> burned_in(jobs.size(), 0);  // Burned In Annotation = YES (not vector<bool>: threads)
  std::vector<anon::DicomDeidStats> stats(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  const auto work = [&](size_t t) {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      std::error_code dir_ec;
      const fs::path parent = fs::path(jobs[i].out).parent_path();
      fs::create_directories(parent, dir_ec);
      anon::DicomDeidStats s;
      absl::Status st = dir_ec ? absl::InternalError(absl::StrCat("cannot create the output directory ",
                                                                  parent.string(), ": ", dir_ec.message()))
                               : anon::DeidentifyDicomFile(*deid, jobs[i].in, jobs[i].out, &s);
      if (st.ok()) {
        stats[t] += s;
        burned_in[i] = s.burned_in_annotation > 0 ? 1 : 0;
      } else {
        // DeidentifyDicomFile's messages start with the input path; keep the reason only.
        std::string reason(st.message());
        if (reason.rfind(jobs[i].in + ": ", 0) == 0) reason = reason.substr(jobs[i].in.size() + 2);
        errors[i] = std::move(reason);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, static_cast<size_t>(t));
  work(0);
  for (std::thread& t : pool) t.join();

  anon::DicomDeidStats total;
  for (const anon::DicomDeidStats& s : stats) total += s;
  // Files whose pixels may show identifying text (Burned In Annotation = YES): Veil does not clean pixels.
  constexpr char kBurnedInWarning[] =
      "Burned In Annotation (0028,0301) is YES: the pixel data may show identifying text (names, dates, "
      "IDs), "
      "which Veil does not detect or remove; check or mask the pixels before release";
  std::vector<Failure> warnings;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (burned_in[i] != 0) warnings.push_back({jobs[i].in, kBurnedInWarning});
  }
  size_t ok = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (errors[i].has_value()) {
      failures.push_back({jobs[i].in, *errors[i]});
    } else {
      ++ok;
    }
  }
  const absl::Duration elapsed = absl::Now() - start;

  if (options.json) {
    nlohmann::ordered_json doc;
    doc["files_ok"] = ok;
    doc["files_failed"] = failures.size();
    doc["output_dir"] = out_dir.string();
    doc["key"] = from_workspace ? "workspace" : "random";
    doc["options"] = args.options;
    doc["attributes"] = {{"removed", total.removed}, {"private_removed", total.private_removed},
                         {"emptied", total.emptied}, {"replaced", total.replaced},
                         {"cleaned", total.cleaned}, {"uids_mapped", total.uids_mapped},
                         {"kept", total.kept}};
    doc["failures"] = nlohmann::ordered_json::array();
    for (const Failure& f : failures) doc["failures"].push_back({{"path", f.path}, {"error", f.reason}});
    doc["warnings"] = nlohmann::ordered_json::array();
    for (const Failure& w : warnings) doc["warnings"].push_back({{"path", w.path}, {"warnings", {w.reason}}});
    doc["threads"] = threads;
    doc["seconds"] = absl::ToDoubleSeconds(elapsed);
    PrintJson(doc);
  } else {
    for (const Failure& f : failures)
      std::fprintf(stderr, "veil: %s: %s\n", f.path.c_str(), f.reason.c_str());
    for (const Failure& w : warnings)
      std::fprintf(stderr, "veil: warning: %s: %s\n", w.path.c_str(), w.reason.c_str());
    if (!options.quiet) {
      std::printf("de-identified %s of %s files into %s in %s (%d threads)\n", WithThousands(ok).c_str(),
                  WithThousands(static_cast<int64_t>(ok + failures.size())).c_str(), out_dir.c_str(),
                  FormatElapsed(elapsed).c_str(), threads);
      std::printf(
          "attributes: %s removed (%s private), %s emptied, %s replaced, %s cleaned, %s UIDs mapped\n",
          WithThousands(total.removed).c_str(), WithThousands(total.private_removed).c_str(),
          WithThousands(total.emptied).c_str(), WithThousands(total.replaced).c_str(),
          WithThousands(total.cleaned).c_str(), WithThousands(total.uids_mapped).c_str());
      if (from_workspace) {
        std::printf("key: derived from the workspace %s (UIDs and date shifts repeat in every run on it)\n",
                    options.workspace.c_str());
      } else {
        std::printf(
            "key: no workspace at %s, so a fresh random key for this run: UIDs and date shifts are "
            "consistent "
            "within this run only\n",
            options.workspace.c_str());
      }
    }
  }
  if (!failures.empty()) {
    if (options.json) {
      // One JSON document on stdout: the summary above already lists the failures.
      cli.exit_code = ExitCode::kBadInput;
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(failures.size(), " of ", ok + failures.size(), " files failed (listed above)"));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterDicom(CLI::App& app, Cli& cli) {
  CLI::App* dicom = app.add_subcommand("dicom", "De-identify DICOM files (PS3.15 Annex E)");
  dicom->require_subcommand(1);
  auto args = std::make_shared<DeidArgs>();
  CLI::App* cmd = dicom->add_subcommand(
      "deid",
      "De-identify DICOM files by the Basic Application Level Confidentiality Profile and its options");
  cmd->add_option("inputs", args->inputs, "DICOM files or directories (searched recursively)")->required();
  cmd->add_option("-o,--output", args->out_dir, "The output directory (created if missing)")->required();
  std::string option_help = "A profile option (repeatable):";
  for (const anon::DicomOptionInfo& info : anon::DicomOptionInfos()) {
    option_help.append(" ").append(info.cli_name);
  }
  cmd->add_option("--option", args->options, option_help);
  cmd->add_option("--jobs", args->jobs, "Threads (default: the number of cores)");
  cmd->callback([args, &cli] { cli.action = [args, &cli] { return RunDeid(*args, cli); }; });
}

}  // namespace veil::cli
