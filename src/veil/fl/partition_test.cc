#include "veil/fl/partition.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

// Every row exactly once, every site non-empty and sorted.
void ExpectPartitionOf(const std::vector<std::vector<int64_t>>& sites, int64_t n) {
  std::vector<int64_t> all;
  for (const auto& s : sites) {
    EXPECT_FALSE(s.empty());
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    all.insert(all.end(), s.begin(), s.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(static_cast<int64_t>(all.size()), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(all[i], i);
}

TEST(PartitionTest, ParsesTheTwoForms) {
  auto iid = ParsePartition("iid");
  ASSERT_TRUE(iid.ok());
  EXPECT_EQ(iid->kind, PartitionSpec::Kind::kIid);
  EXPECT_EQ(PartitionName(*iid), "iid");
  auto dir = ParsePartition("dirichlet:0.5");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->kind, PartitionSpec::Kind::kDirichlet);
  EXPECT_EQ(dir->alpha, 0.5);
  EXPECT_EQ(PartitionName(*dir), "dirichlet:0.5");
  for (const char* bad : {"", "IID", "dirichlet", "dirichlet:", "dirichlet:0", "dirichlet:-1",
                          "dirichlet:abc", "dirichlet:nan", "dirichlet:inf", "dirichlet:0.5x"}) {
    auto r = ParsePartition(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("dirichlet:ALPHA")) << bad;
  }
}

TEST(PartitionTest, IidDealsNearlyEqualParts) {
  DeterministicRandom rng(1);
  auto p = PartitionIid(10, 3, rng);
  ASSERT_TRUE(p.ok()) << p.status();
  ExpectPartitionOf(*p, 10);
  std::vector<size_t> sizes;
  for (const auto& s : *p) sizes.push_back(s.size());
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 4}));
  // Shuffled: the first site is not simply rows 0..2 (probability 1 / C(10, 3) = 1/120 under a uniform
  // shuffle; with this seed it is not).
  EXPECT_NE((*p)[0], (std::vector<int64_t>{0, 1, 2}));
  DeterministicRandom again(1);
  EXPECT_EQ(*PartitionIid(10, 3, again), *p);  // reproducible from the seed
  EXPECT_EQ(PartitionIid(2, 3, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionIid(10, 0, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

// The Dirichlet sampler itself, without the rounding of the row cuts. For p ~ Dirichlet(alpha, ..., alpha)
// over K sites, with A = K alpha and rising factorials x^(r) = x (x + 1) ... (x + r - 1):
//   E[p_i^2] = alpha^(2) / A^(2),  E[p_i^4] = alpha^(4) / A^(4),
//   E[p_i p_j] = alpha^2 / A^(2),  E[p_i^2 p_j^2] = (alpha^(2))^2 / A^(4)   (i != j).
// Over N = 20,000 draws the sample means have standard errors sqrt(Var / N); tolerance 5 of them. (At alpha =
// 0.5 that is 0.007 for E[p^2] = 0.125, against 0.025 for a sampler that drew alpha = 1 by mistake.)
double Rising(double x, int r) {
  double out = 1;
  for (int i = 0; i < r; ++i) out *= x + i;
  return out;
}

TEST(PartitionTest, DirichletSamplerHasTheDirichletMoments) {
  constexpr int kSites = 4, kDraws = 20000;
  for (double alpha : {0.5, 2.0}) {  // the Gamma sampler's alpha < 1 path and its Marsaglia-Tsang path
    SCOPED_TRACE(alpha);
    DeterministicRandom rng(static_cast<uint64_t>(alpha * 10));
    dp::RandomBits bits(rng);
    const double a = kSites * alpha;
    const double sq = Rising(alpha, 2) / Rising(a, 2), sq_var = Rising(alpha, 4) / Rising(a, 4) - sq * sq;
    const double cross = alpha * alpha / Rising(a, 2);
    const double cross_var = Rising(alpha, 2) * Rising(alpha, 2) / Rising(a, 4) - cross * cross;
    std::vector<double> p, mean_sq(kSites, 0.0);
    double mean_cross = 0;
    for (int t = 0; t < kDraws; ++t) {
      internal::SampleDirichlet(bits, alpha, kSites, p);
      double total = 0;
      for (int k = 0; k < kSites; ++k) {
        EXPECT_GE(p[k], 0);
        total += p[k];
        mean_sq[k] += p[k] * p[k] / kDraws;
      }
      ASSERT_NEAR(total, 1, 1e-12);
      mean_cross += p[0] * p[1] / kDraws;
    }
    ASSERT_TRUE(bits.ok());
    for (int k = 0; k < kSites; ++k) EXPECT_NEAR(mean_sq[k], sq, 5 * std::sqrt(sq_var / kDraws)) << k;
    EXPECT_NEAR(mean_cross, cross, 5 * std::sqrt(cross_var / kDraws));
  }
}

// Dirichlet statistics through the row cuts (a coarser check that the cutting keeps the distribution; the
// sampler's own moments are tested above). Site k's proportion p_k of one label is Beta(a, b) with a =
// alpha, b = (K - 1) alpha, whose moments are E[p^r] = prod_{i<r} (a + i) / (a + b + i). With L labels drawn
// independently, the mean over labels of a site's share s_k (its rows of the label / the label's rows)
// estimates E[p] = 1/K and the mean of s_k^2 estimates E[p^2], each with standard error sd / sqrt(L) (sd^2 =
// Var(p), resp. E[p^4] - E[p^2]^2). Cutting at floor(P_k n) moves s_k from p_k by less than 1/n per boundary,
// 2/n in all, and s^2 by less than 2 * 2/n. Tolerance: 5 standard errors plus that rounding. alpha = 0.5
// exercises the Gamma sampler's alpha < 1 path, alpha = 2 its Marsaglia-Tsang path.
void CheckDirichletMoments(double alpha, uint64_t seed) {
  SCOPED_TRACE(alpha);
  constexpr int kSites = 4, kLabels = 400, kRowsPerLabel = 250;
  std::vector<int32_t> labels(kLabels * kRowsPerLabel);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % kLabels);  // interleaved
  DeterministicRandom rng(seed);
  auto p = PartitionDirichlet(labels, kSites, alpha, rng);
  ASSERT_TRUE(p.ok()) << p.status();
  ExpectPartitionOf(*p, static_cast<int64_t>(labels.size()));
  const double a = alpha, b = (kSites - 1) * alpha;
  const auto moment = [&](int r) {
    double m = 1;
    for (int i = 0; i < r; ++i) m *= (a + i) / (a + b + i);
    return m;
  };
  const double m1 = moment(1), m2 = moment(2), m4 = moment(4);
  const double se1 = std::sqrt((m2 - m1 * m1) / kLabels), se2 = std::sqrt((m4 - m2 * m2) / kLabels);
  const double rounding = 2.0 / kRowsPerLabel;
  for (int k = 0; k < kSites; ++k) {
    std::vector<double> share(kLabels, 0.0);
    for (int64_t row : (*p)[k]) share[labels[row]] += 1.0 / kRowsPerLabel;
    double s1 = 0, s2 = 0;
    for (double s : share) {
      s1 += s / kLabels;
      s2 += s * s / kLabels;
    }
    EXPECT_NEAR(s1, m1, 5 * se1 + rounding) << "site " << k;
    EXPECT_NEAR(s2, m2, 5 * se2 + 2 * rounding) << "site " << k;
  }
}

TEST(PartitionTest, DirichletSharesHaveTheBetaMoments) {
  CheckDirichletMoments(0.5, 21);
  CheckDirichletMoments(2, 22);
}

// A very large alpha approaches iid: each site's share of a label is Beta(alpha, 3 alpha) with standard
// deviation sqrt(3/16 / (4 alpha + 1)) = 0.0022 at alpha = 1e4, so every site gets 250 +- (5 * 0.0022 * 1000
// + 1) of each label's 1000 rows.
TEST(PartitionTest, LargeAlphaIsNearlyUniform) {
  std::vector<int32_t> labels(3000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i / 1000) - 7;  // -7, -6, -5
  DeterministicRandom rng(8);
  auto p = PartitionDirichlet(labels, 4, 1e4, rng);
  ASSERT_TRUE(p.ok());
  for (const auto& site : *p) {
    int counts[3] = {0, 0, 0};
    for (int64_t row : site) ++counts[labels[row] + 7];
    for (int c : counts) EXPECT_NEAR(c, 250, 12);
  }
}

TEST(PartitionTest, DirichletIsReproducibleAndDependsOnTheSeed) {
  std::vector<int32_t> labels(500);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 2);
  DeterministicRandom a(3), b(3), c(4);
  auto pa = PartitionDirichlet(labels, 4, 0.5, a);
  auto pb = PartitionDirichlet(labels, 4, 0.5, b);
  auto pc = PartitionDirichlet(labels, 4, 0.5, c);
  ASSERT_TRUE(pa.ok() && pb.ok() && pc.ok());
  EXPECT_EQ(*pa, *pb);
  EXPECT_NE(*pa, *pc);
  DeterministicRandom d(3);
  auto via_spec = Partition({PartitionSpec::Kind::kDirichlet, 0.5}, labels, 4, d);
  EXPECT_EQ(*via_spec, *pa);
}

TEST(PartitionTest, DirichletRejectsBadInput) {
  DeterministicRandom rng(5);
  const std::vector<int32_t> labels = {0, 1, 0, 1};
  EXPECT_EQ(PartitionDirichlet(labels, 0, 1, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionDirichlet(labels, 5, 1, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionDirichlet(labels, 2, 0, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PartitionDirichlet(labels, 2, NAN, rng).status().code(), absl::StatusCode::kInvalidArgument);
  // Three rows of one label over three sites with alpha = 1e-3: the proportions are nearly one-hot, so one
  // site takes every row in practically every draw, and the error says what to change.
  const std::vector<int32_t> one_label = {4, 4, 4};
  auto r = PartitionDirichlet(one_label, 3, 1e-3, rng);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("larger alpha or fewer sites"));
}

}  // namespace
}  // namespace veil::fl
