// End-to-end tests of `veil dicom deid` (dicom_commands.cc).
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

constexpr char kSamples[] = "../shared/data/dicom/pydicom";

class DicomCliTest : public VeilCliTest {
 protected:
  std::string Out(const std::string& name) { return (dir_ / name).string(); }
  // A copy of the samples with two bad files added, in a subdirectory.
  std::string MixedInputs() {
    const fs::path in = dir_ / "in";
    fs::create_directories(in / "sub");
    for (const char* f : {"CT_small.dcm", "MR_small.dcm", "rtstruct.dcm", "test-SR.dcm"}) {
      fs::copy_file(fs::path(kSamples) / f, in / f);
    }
    fs::copy_file(fs::path(kSamples) / "priv_SQ.dcm", in / "sub" / "priv_SQ.dcm");
    const std::string ct = Slurp(std::string(kSamples) + "/CT_small.dcm");
    std::ofstream(in / "truncated.dcm", std::ios::binary) << ct.substr(0, ct.size() / 2);
    std::ofstream(in / "sub" / "notes.txt") << "not a DICOM file at all\n";
    return in.string();
  }
};

TEST_F(DicomCliTest, DirectoryWithBadFilesIsProcessedAndReported) {
  const std::string in = MixedInputs();
  Result r =
      Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in) + " -o " + Q(Out("out")) + " --jobs 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.out, HasSubstr("de-identified 5 of 7 files"));
  EXPECT_THAT(r.out, HasSubstr("fresh random key"));
  EXPECT_THAT(r.err, HasSubstr("truncated.dcm: malformed DICOM file"));
  EXPECT_THAT(r.err, HasSubstr("notes.txt: not a DICOM file"));
  EXPECT_THAT(r.err, HasSubstr("2 of 7 files failed"));
  for (const char* f : {"CT_small.dcm", "MR_small.dcm", "rtstruct.dcm", "test-SR.dcm", "sub/priv_SQ.dcm"}) {
    const std::string out = Slurp(Out(std::string("out/") + f));
    EXPECT_FALSE(out.empty()) << f;
    EXPECT_THAT(out, Not(HasSubstr("CompressedSamples"))) << f;
  }
  // No output and no temporary file for the bad inputs.
  EXPECT_FALSE(fs::exists(Out("out/truncated.dcm")));
  EXPECT_FALSE(fs::exists(Out("out/truncated.dcm.tmp")));
  EXPECT_FALSE(fs::exists(Out("out/sub/notes.txt")));
  // The inputs are untouched.
  EXPECT_EQ(Slurp(in + "/CT_small.dcm"), Slurp(std::string(kSamples) + "/CT_small.dcm"));
}

TEST_F(DicomCliTest, JsonSummary) {
  Result r = Veil("--json --workspace " + Q(Out("no-ws")) + " dicom deid " + std::string(kSamples) +
                  "/CT_small.dcm " + std::string(kSamples) + "/MR_small.dcm -o " + Q(Out("out")) +
                  " --option retain-longitudinal-modified-dates");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["files_ok"], 2);
  EXPECT_EQ(doc["files_failed"], 0);
  EXPECT_EQ(doc["key"], "random");
  EXPECT_GT(doc["attributes"]["removed"].get<int>(), 10);
  EXPECT_GT(doc["attributes"]["private_removed"].get<int>(), 0);
  EXPECT_GT(doc["attributes"]["uids_mapped"].get<int>(), 4);
  EXPECT_GT(doc["attributes"]["cleaned"].get<int>(), 3);  // dates shifted
  EXPECT_TRUE(fs::exists(Out("out/CT_small.dcm")));
  EXPECT_TRUE(fs::exists(Out("out/MR_small.dcm")));
}

TEST_F(DicomCliTest, JsonWithFailuresIsOneDocumentAndExitTwo) {
  const std::string bad = WriteFile("bad.dcm", "garbage");
  Result r = Veil("--json --workspace " + Q(Out("no-ws")) + " dicom deid " + Q(bad) + " " +
                  std::string(kSamples) + "/MR_small.dcm -o " + Q(Out("out")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["files_ok"], 1);
  ASSERT_EQ(doc["failures"].size(), 1u);
  EXPECT_EQ(doc["failures"][0]["path"], bad);
  EXPECT_THAT(doc["failures"][0]["error"].get<std::string>(), HasSubstr("not a DICOM file"));
}

TEST_F(DicomCliTest, WorkspaceKeyIsDeterministicAcrossRuns) {
  Result init = Ws("init --quiet");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  const std::string ct = std::string(kSamples) + "/CT_small.dcm";
  Result a = Ws("dicom deid " + ct + " -o " + Q(Out("a")));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_THAT(a.out, HasSubstr("derived from the workspace"));
  Result b = Ws("dicom deid " + ct + " -o " + Q(Out("b")));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(Slurp(Out("a/CT_small.dcm")), Slurp(Out("b/CT_small.dcm")));
  // Without the workspace: a random key, other UIDs.
  Result c = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + ct + " -o " + Q(Out("c")));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(Slurp(Out("a/CT_small.dcm")), Slurp(Out("c/CT_small.dcm")));
  // Each run on the workspace is an entry of the audit log (gate operation dicom.deid; params by hash only).
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["entries"].size(), 3u);
  EXPECT_EQ(log["entries"][1]["action"], "dicom.deid");
  EXPECT_EQ(log["entries"][2]["action"], "dicom.deid");
}

TEST_F(DicomCliTest, GateDenialLeavesNoOutputDirectory) {
  ASSERT_EQ(Ws("init --quiet").exit_code, 0);
  ASSERT_EQ(Ws("grant carol auditor").exit_code, 0);
  const std::string ct = std::string(kSamples) + "/CT_small.dcm";
  Result r = Ws("dicom deid " + ct + " -o " + Q(Out("denied/deeper")), "carol");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("refused"));
  EXPECT_FALSE(fs::exists(Out("denied")));
}

TEST_F(DicomCliTest, BurnedInAnnotationWarnsPerFile) {
  const fs::path in = dir_ / "in";
  fs::create_directories(in);
  fs::copy_file(fs::path(kSamples) / "MR_small.dcm", in / "MR_small.dcm");
  fs::copy_file(fs::path(kSamples) / "CT_small.dcm", in / "CT_small.dcm");
  // dcmodify: the same file with Burned In Annotation = YES.
  ASSERT_EQ(std::system(("dcmodify -nb -i '(0028,0301)=YES' " + Q((in / "CT_small.dcm").string())).c_str()),
            0);
  Result r =
      Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in.string()) + " -o " + Q(Out("out")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: " + (in / "CT_small.dcm").string() + ": Burned In Annotation"));
  EXPECT_THAT(r.err, Not(HasSubstr("MR_small.dcm")));
  r = Veil("--json --workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in.string()) + " -o " +
           Q(Out("out2")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  ASSERT_EQ(doc["warnings"].size(), 1u);
  EXPECT_EQ(doc["warnings"][0]["path"], (in / "CT_small.dcm").string());
  EXPECT_THAT(doc["warnings"][0]["warnings"][0].get<std::string>(), HasSubstr("pixel data"));
}

TEST_F(DicomCliTest, UsageErrors) {
  const std::string ct = std::string(kSamples) + "/CT_small.dcm";
  Result r = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + ct + " -o " + Q(Out("o")) +
                  " --option retain-everything");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("retain-everything"));
  r = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + ct + " -o " + Q(Out("o")) +
           " --option retain-longitudinal-full-dates --option retain-longitudinal-modified-dates");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("exclude each other"));
  r = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(Out("missing.dcm")) + " -o " + Q(Out("o")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no such file or directory"));
}

TEST_F(DicomCliTest, OutputInsideTheInputDirectoryNeverOverwritesInputs) {
  const fs::path in = dir_ / "in";
  fs::create_directories(in);
  fs::copy_file(fs::path(kSamples) / "MR_small.dcm", in / "MR_small.dcm");
  Result r =
      Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in.string()) + " -o " + Q(in.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("would overwrite its input"));
  EXPECT_EQ(Slurp((in / "MR_small.dcm").string()), Slurp(std::string(kSamples) + "/MR_small.dcm"));
  // A subdirectory of the input as output: the second run does not read the first run's outputs.
  r = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in.string()) + " -o " +
           Q((in / "out").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Veil("--workspace " + Q(Out("no-ws")) + " dicom deid " + Q(in.string()) + " -o " +
           Q((in / "out").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("de-identified 1 of 1 files"));
  EXPECT_FALSE(fs::exists(in / "out" / "out"));
}

}  // namespace
}  // namespace veil::cli::testing
