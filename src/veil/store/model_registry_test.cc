#include "veil/store/model_registry.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/store/test_util.h"

namespace veil::store {
namespace {

using ::veil::store::testing::kDropAfterV4;

using ::testing::HasSubstr;

absl::Status Allow(const ModelVersionInfo&) { return absl::OkStatus(); }
absl::Status NoInit(Workspace&) { return absl::OkStatus(); }

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::Create(*env_, dir_, {}, NoInit);
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_ = *std::move(ws);
  }
  void Reopen() {
    ws_.reset();
    auto ws = Workspace::Open(*env_, dir_, std::nullopt);
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_ = *std::move(ws);
  }

  base::testing::ScopedTempDir tmp_{"veil_model_registry_test"};
  const std::string dir_ = tmp_.File("ws");
  std::unique_ptr<base::Env> env_ = base::NewPosixEnv(crypto::SecureRandom());
  std::unique_ptr<Workspace> ws_;
};

TEST_F(ModelRegistryTest, PutGetVersionsAndListSurviveReopen) {
  ModelRegistry reg(*ws_);
  auto v1 = reg.Put("loans", "adult", "alice", {{"kind", "logreg"}}, "payload one", Allow);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  auto v2 = reg.Put("loans", "adult", "bob", {{"kind", "mlp"}}, "payload two", Allow);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  ASSERT_TRUE(reg.Put("fraud", "", "alice", nlohmann::ordered_json::object(), "x", Allow).ok());
  Reopen();
  ModelRegistry again(*ws_);
  auto latest = again.Get({"loans", std::nullopt});
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->info.version, 2);
  EXPECT_EQ(latest->payload, "payload two");
  EXPECT_EQ(latest->info.created_by, "bob");
  EXPECT_EQ(latest->info.card["kind"], "mlp");
  auto first = again.Get({"loans", 1});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->payload, "payload one");
  auto list = again.List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "fraud");
  EXPECT_EQ((*list)[1].name, "loans");
  EXPECT_EQ((*list)[1].version, 2);
  EXPECT_EQ(again.Versions("loans")->size(), 2u);
  EXPECT_EQ(again.Get({"loans", 3}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(again.Get({"nope", std::nullopt}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(again.Versions("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRegistryTest, PayloadIsEncryptedAndBoundToItsCard) {
  ModelRegistry reg(*ws_);
  ASSERT_TRUE(reg.Put("loans", "adult", "alice", {{"epsilon", 1.0}}, "SECRET-WEIGHTS-0.123", Allow).ok());
  Reopen();
  // Not in the clear anywhere in workspace.db.
  EXPECT_THAT(base::testing::FileContents(dir_ + "/workspace.db"),
              ::testing::Not(HasSubstr("SECRET-WEIGHTS")));
  // An altered card (a smaller epsilon, say) no longer opens the model.
  ASSERT_TRUE(ws_->metadata().Exec("UPDATE model SET card = '{\"epsilon\":0.1}' WHERE name = 'loans'").ok());
  absl::Status s = ModelRegistry(*ws_).Get({"loans", std::nullopt}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // A payload moved to another version does not open either.
  ModelRegistry reg2(*ws_);
  ASSERT_TRUE(reg2.Put("other", "adult", "alice", {{"a", 1}}, "one", Allow).ok());
  ASSERT_TRUE(reg2.Put("other", "adult", "alice", {{"a", 1}}, "two", Allow).ok());
  ASSERT_TRUE(
      ws_->metadata()
          .Exec("UPDATE model SET sealed = (SELECT sealed FROM model WHERE name = 'other' AND version = 1) "
                "WHERE name = 'other' AND version = 2")
          .ok());
  EXPECT_EQ(reg2.Get({"other", 2}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(reg2.Get({"other", 1}).ok());
  // Listing checks the seals too: the tampered card and the moved payload are never shown.
  EXPECT_EQ(reg2.List().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reg2.Versions("loans").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reg2.Versions("other").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ModelRegistryTest, CreatorAndTimeAreSealed) {
  ModelRegistry reg(*ws_);
  ASSERT_TRUE(reg.Put("m", "adult", "alice", {{"a", 1}}, "payload", Allow).ok());
  ASSERT_TRUE(reg.Versions("m").ok());
  ASSERT_TRUE(ws_->metadata().Exec("UPDATE model SET created_by = 'bob' WHERE name = 'm'").ok());
  EXPECT_EQ(reg.Versions("m").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reg.Get({"m", std::nullopt}).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(ws_->metadata().Exec("UPDATE model SET created_by = 'alice' WHERE name = 'm'").ok());
  ASSERT_TRUE(reg.List().ok());
  ASSERT_TRUE(ws_->metadata().Exec("UPDATE model SET created_ns = created_ns + 1 WHERE name = 'm'").ok());
  EXPECT_EQ(reg.List().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ModelRegistryTest, HookErrorStoresNothingAndUpdateCardReseals) {
  ModelRegistry reg(*ws_);
  auto refused = reg.Put("loans", "adult", "alice", {{"k", 1}}, "p",
                         [](const ModelVersionInfo&) { return absl::UnavailableError("audit down"); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reg.Get({"loans", std::nullopt}).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(reg.Put("loans", "adult", "alice", {{"k", 1}}, "p", Allow).ok());
  nlohmann::ordered_json card = {{"k", 1}, {"metrics", {{"accuracy", 0.85}}}};
  auto updated = reg.UpdateCard("loans", 1, card, Allow);
  ASSERT_TRUE(updated.ok()) << updated.status();
  auto got = reg.Get({"loans", 1});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->info.card["metrics"]["accuracy"], 0.85);
  EXPECT_EQ(got->payload, "p");
  EXPECT_EQ(reg.UpdateCard("loans", 1, card, [](const ModelVersionInfo&) { return absl::AbortedError("no"); })
                .status()
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(reg.UpdateCard("loans", 7, card, Allow).status().code(), absl::StatusCode::kNotFound);
}

// A workspace of schema version 3 (before the registry) gains it when opened; its data is untouched.
TEST_F(ModelRegistryTest, VersionThreeWorkspaceIsMigrated) {
  ws_.reset();
  {
    auto db = Database::Open(dir_ + "/workspace.db", {.create = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(absl::StrCat(kDropAfterV4, "DROP TABLE model; PRAGMA user_version = 3;")).ok());
  }
  Reopen();
  EXPECT_EQ(*ws_->metadata().UserVersion(), Workspace::SchemaVersion());
  ModelRegistry reg(*ws_);
  EXPECT_TRUE(reg.List()->empty());
  EXPECT_TRUE(reg.Put("loans", "", "alice", nlohmann::ordered_json::object(), "p", Allow).ok());
}

TEST_F(ModelRegistryTest, NamesAndRefs) {
  EXPECT_TRUE(ValidateModelName("loans-v2.1").ok());
  EXPECT_EQ(ValidateModelName("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateModelName("../x").code(), absl::StatusCode::kInvalidArgument);
  auto ref = ParseModelRef("loans@3");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->name, "loans");
  EXPECT_EQ(ref->version, 3);
  EXPECT_FALSE(ParseModelRef("loans").value().version.has_value());
  EXPECT_EQ(ParseModelRef("loans@0").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelRef("loans@x").status().code(), absl::StatusCode::kInvalidArgument);
  ModelRegistry reg(*ws_);
  EXPECT_EQ(reg.Put("bad name", "", "a", nlohmann::ordered_json::object(), "p", Allow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Put("ok", "", "a", nlohmann::ordered_json::array(), "p", Allow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::store
