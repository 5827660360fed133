#include "veil/synth/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "veil/base/html.h"
#include "veil/base/status_macros.h"
#include "veil/synth/discretize.h"

namespace veil::synth {
namespace {

using table::DataType;

constexpr int kMaxPlotCells = 30;
constexpr int64_t kReportQuantileBins = 20;
constexpr int64_t kMaxFeatures = 4000;

// Exact quantile bins of the real values (see the header): bin starts over [min, max].
void RealQuantileBins(const table::Column& c, ColumnCoding& coding) {
  const bool integer = c.type() != DataType::kDouble;
  std::vector<double> v;
  v.reserve(c.size());
  for (int64_t r = 0; r < c.size(); ++r) {
    if (c.IsNull(r)) continue;
    const double x = internal::NumericValue(c, r);
    if (!std::isnan(x)) v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  coding.binning = Binning::kEdges;
  coding.rule = ColumnRule::kPublicBounds;
  coding.lower = v.empty() ? 0 : v.front();
  coding.upper = v.empty() ? 0 : v.back();
  std::vector<std::pair<double, double>> cells;
  int64_t distinct = 0;
  for (size_t i = 0; i < v.size(); ++i) distinct += i == 0 || v[i] != v[i - 1];
  if (distinct <= kReportQuantileBins) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0 && v[i] == v[i - 1]) continue;
      cells.push_back(internal::ExactCell(v[i], integer));
      cells.push_back(cells.back());
    }
  } else {
    const size_t n = v.size();
    for (int64_t j = 1; j < kReportQuantileBins; ++j) {
      const size_t at = std::min(n - 1, static_cast<size_t>(j) * n / kReportQuantileBins);
      cells.push_back(internal::ExactCell(v[at], integer));
    }
  }
  coding.starts = internal::BinStartsFromCells(std::move(cells), coding.lower, coding.upper);
  coding.bins = static_cast<int64_t>(coding.starts.size());
  coding.size = 0;  // recomputed by Codec::FromCodings
}

// The report's common coding (see the header) of the real table's columns named in `names`; `source` says
// where it came from.
absl::StatusOr<Codec> ReportCodec(const table::Table& real, const std::vector<std::string>& names,
                                  const std::optional<std::vector<ColumnCoding>>& sidecar,
                                  std::string& source) {
  DiscretizeOptions o;
  o.max_categories = 1000;
  for (int i = 0; i < real.num_columns(); ++i) {
    const table::Field& f = real.schema().field(i);
    if (std::find(names.begin(), names.end(), f.name) == names.end()) {
      o.drop.push_back(f.name);
      continue;
    }
    if (f.type == DataType::kBool) continue;
    ColumnSpec s;
    s.name = f.name;
    if (f.type == DataType::kString) {
      s.rule = ColumnRule::kPublicMinCount;
      s.min_count = 1;
    } else {
      // Placeholder bounds and bins, replaced by the real quantile bins below.
      s.rule = ColumnRule::kPublicBounds;
      s.binning = Binning::kEqualWidth;
      s.lower = 0;
      s.upper = 0;
      s.bins = 1;
    }
    o.columns.push_back(std::move(s));
  }
  // No DP step: FitCodec reads the real table exactly (public rules only).
  struct NoRandom final : base::RandomSource {
    absl::Status Fill(std::span<uint8_t>) override { return absl::InternalError("the report draws nothing"); }
  } no_random;
  dp::RandomBits bits(no_random);
  VEIL_ASSIGN_OR_RETURN(const Codec fitted, FitCodec(real, o, nullptr, 0, bits));
  std::vector<ColumnCoding> columns = fitted.columns();
  int from_sidecar = 0;
  for (ColumnCoding& c : columns) {
    if (sidecar.has_value()) {
      const auto it = std::find_if(sidecar->begin(), sidecar->end(), [&](const ColumnCoding& s) {
        return s.name == c.name && s.type == c.type;
      });
      if (it != sidecar->end()) {
        const bool nullable = c.nullable;
        c = *it;
        // The real table may have nulls the synthesizer's input had not: keep a null code if either has one.
        if (nullable && !c.nullable) {
          c.nullable = true;
          c.size = 0;
        }
        ++from_sidecar;
        continue;
      }
    }
    if (!c.categorical) RealQuantileBins(real.column(*real.schema().FindField(c.name)), c);
  }
  const int total = static_cast<int>(columns.size());
  if (from_sidecar == total) {
    source = "the synthesizer's coding (sidecar)";
  } else if (from_sidecar > 0) {
    source = absl::StrCat("the synthesizer's coding (sidecar) for ", from_sidecar, " of ", total,
                          " columns; the others by the real table's values and quantiles");
  } else {
    source = "the real table: categorical values as they are, numbers in bins at its quantiles";
  }
  return Codec::FromCodings(std::move(columns));
}

// The training part of `t` (test_part false) or the held-out part: every third row, from row 2.
absl::StatusOr<table::Table> Rows(const table::Table& t, bool test_part) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    if ((r % 3 == 2) == test_part) rows.push_back(r);
  }
  return t.Take(rows);
}

// --- Logistic regression on one-hot codes.

struct Dataset {
  std::vector<std::vector<int>> x;  // active feature indexes (the intercept is feature 0)
  std::vector<int> y;
};

Dataset OneHot(const DiscreteTable& t, int target, const std::vector<int64_t>& offsets, int32_t mode) {
  Dataset d;
  d.x.resize(t.num_rows());
  d.y.resize(t.num_rows());
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    d.x[r].push_back(0);
    for (int a = 0; a < t.num_attributes(); ++a) {
      if (a == target) continue;
      d.x[r].push_back(static_cast<int>(offsets[a] + t.code(r, a)));
    }
    d.y[r] = t.code(r, target) != mode ? 1 : 0;
  }
  return d;
}

// Solves A x = b for symmetric positive definite A (n x n, row-major) by Cholesky; false if not PD.
bool CholeskySolve(std::vector<double> a, std::vector<double>& b, int n) {
  for (int j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (int k = 0; k < j; ++k) s -= a[j * n + k] * a[j * n + k];
    if (!(s > 0)) return false;
    const double l = std::sqrt(s);
    a[j * n + j] = l;
    for (int i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      for (int k = 0; k < j; ++k) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = t / l;
    }
  }
  for (int i = 0; i < n; ++i) {
    double t = b[i];
    for (int k = 0; k < i; ++k) t -= a[i * n + k] * b[k];
    b[i] = t / a[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double t = b[i];
    for (int k = i + 1; k < n; ++k) t -= a[k * n + i] * b[k];
    b[i] = t / a[i * n + i];
  }
  return true;
}

// L2-penalized (lambda = 1, intercept unpenalized) logistic regression by Newton's method.
std::vector<double> FitLogistic(const Dataset& d, int p) {
  std::vector<double> w(p, 0.0);
  constexpr double kLambda = 1.0;
  for (int iter = 0; iter < 30; ++iter) {
    std::vector<double> g(p, 0.0), h(static_cast<size_t>(p) * p, 0.0);
    for (size_t r = 0; r < d.x.size(); ++r) {
      double z = 0;
      for (int f : d.x[r]) z += w[f];
      const double mu = 1 / (1 + std::exp(-z));
      const double v = std::max(mu * (1 - mu), 1e-12);
      for (int f : d.x[r]) {
        g[f] += mu - d.y[r];
        for (int f2 : d.x[r]) h[static_cast<size_t>(f) * p + f2] += v;
      }
    }
    for (int f = 1; f < p; ++f) {
      g[f] += kLambda * w[f];
      h[static_cast<size_t>(f) * p + f] += kLambda;
    }
    h[0] += 1e-9;
    if (!CholeskySolve(h, g, p)) break;
    double step = 0;
    for (int f = 0; f < p; ++f) {
      w[f] -= g[f];
      step = std::max(step, std::abs(g[f]));
    }
    if (step < 1e-8) break;
  }
  return w;
}

void Score(const Dataset& test, const std::vector<double>& w, double& accuracy, double& auc) {
  std::vector<double> scores(test.x.size());
  int64_t correct = 0;
  for (size_t r = 0; r < test.x.size(); ++r) {
    double z = 0;
    for (int f : test.x[r]) z += w[f];
    scores[r] = z;
    correct += ((z > 0) ? 1 : 0) == test.y[r];
  }
  accuracy = test.x.empty() ? 0 : static_cast<double>(correct) / static_cast<double>(test.x.size());
  auc = internal::RocAuc(scores, test.y);
}

// Keys of rows (the compared columns' raw text, or codes) for exact-match counting.
std::string RawKey(const table::Table& t, const std::vector<int>& cols, int64_t r) {
  std::string key;
  for (int c : cols) {
    absl::StrAppend(&key, t.IsNull(r, c) ? std::string("\x01null") : t.FormatValue(r, c), "\x1f");
  }
  return key;
}
std::string CodedKey(const DiscreteTable& t, int64_t r) {
  std::string key;
  for (int a = 0; a < t.num_attributes(); ++a) absl::StrAppend(&key, t.code(r, a), ",");
  return key;
}

double Pearson(const table::Column& x, const table::Column& y) {
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int64_t r = 0; r < x.size(); ++r) {
    if (x.IsNull(r) || y.IsNull(r)) continue;
    const double a = internal::NumericValue(x, r), b = internal::NumericValue(y, r);
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    n += 1;
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  if (n < 2) return 0;
  const double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;
  if (!(vx > 0) || !(vy > 0)) return 0;
  return (sxy - sx * sy / n) / std::sqrt(vx * vy);
}

std::string Fixed(double v, int digits = 4) { return absl::StrFormat("%.*f", digits, v); }

}  // namespace

namespace internal {

double RocAuc(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;  // 1-based average
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] == 1) {
        rank_sum += avg_rank;
        ++pos;
      }
    }
    i = j;
  }
  const int64_t neg = static_cast<int64_t>(scores.size()) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - static_cast<double>(pos) * static_cast<double>(pos + 1) / 2) /
         (static_cast<double>(pos) * static_cast<double>(neg));
}

double CramersV(const std::vector<double>& t, int64_t rows, int64_t cols) {
  std::vector<double> rs(rows, 0), cs(cols, 0);
  double n = 0;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      rs[i] += t[i * cols + j];
      cs[j] += t[i * cols + j];
      n += t[i * cols + j];
    }
  }
  const int64_t r = std::count_if(rs.begin(), rs.end(), [](double v) { return v > 0; });
  const int64_t c = std::count_if(cs.begin(), cs.end(), [](double v) { return v > 0; });
  if (r < 2 || c < 2 || !(n > 0)) return 0;
  double chi2 = 0;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      if (rs[i] == 0 || cs[j] == 0) continue;
      const double e = rs[i] * cs[j] / n;
      chi2 += (t[i * cols + j] - e) * (t[i * cols + j] - e) / e;
    }
  }
  return std::sqrt(chi2 / (n * static_cast<double>(std::min(r, c) - 1)));
}

}  // namespace internal

absl::StatusOr<MlSummary> TrainOnSyntheticTestOnReal(const DiscreteTable& train_real,
                                                     const DiscreteTable& synthetic,
                                                     const DiscreteTable& test, int target,
                                                     const std::vector<std::string>& target_labels) {
  const Domain& domain = train_real.domain();
  if (!(synthetic.domain() == domain) || !(test.domain() == domain))
    return absl::InvalidArgumentError("train on synthetic: the three tables must be coded over one domain");
  const int d = domain.num_attributes();
  if (target < 0 || target >= d) return absl::InvalidArgumentError("train on synthetic: no such target");
  MlSummary ml;
  std::vector<int64_t> offsets(d, 0);
  int64_t p = 1;
  for (int a = 0; a < d; ++a) {
    offsets[a] = p;
    if (a != target) p += domain.size(a);
  }
  const int tv[] = {target};
  VEIL_ASSIGN_OR_RETURN(const std::vector<double> counts, train_real.Marginal(tv));
  const int32_t mode = static_cast<int32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  ml.target = domain.attribute(target).name;
  ml.positive = absl::StrCat(
      "not ", static_cast<size_t>(mode) < target_labels.size() ? target_labels[mode] : absl::StrCat(mode));
  ml.features = p;
  ml.train_real_rows = train_real.num_rows();
  ml.train_synthetic_rows = synthetic.num_rows();
  ml.test_rows = test.num_rows();
  if (d < 2) {
    ml.note = "skipped: no feature column besides the target";
  } else if (p > kMaxFeatures) {
    ml.note = absl::StrCat("skipped: ", p, " one-hot features (more than ", kMaxFeatures, ")");
  } else if (test.num_rows() == 0) {
    ml.note = "skipped: no test row";
  } else {
    const Dataset real = OneHot(train_real, target, offsets, mode);
    const Dataset synth = OneHot(synthetic, target, offsets, mode);
    const Dataset held = OneHot(test, target, offsets, mode);
    Score(held, FitLogistic(real, static_cast<int>(p)), ml.real_accuracy, ml.real_auc);
    Score(held, FitLogistic(synth, static_cast<int>(p)), ml.synthetic_accuracy, ml.synthetic_auc);
    int64_t negatives = 0;
    for (int y : held.y) negatives += y == 0;
    ml.majority_accuracy = static_cast<double>(negatives) / static_cast<double>(held.y.size());
    ml.ran = true;
  }
  return ml;
}

absl::StatusOr<QualityReport> BuildReport(const ReportInputs& in) {
  QualityReport rep;
  rep.real_name = in.real_name;
  rep.synthetic_name = in.synthetic_name;
  rep.real_rows = in.real.num_rows();
  rep.synthetic_rows = in.synthetic.num_rows();
  rep.privacy = in.privacy;
  if (in.real.num_rows() == 0) return absl::InvalidArgumentError(absl::StrCat(in.real_name, ": no row"));
  if (in.synthetic.num_rows() == 0)
    return absl::InvalidArgumentError(absl::StrCat(in.synthetic_name, ": no row"));
  std::vector<std::string> names;
  for (const table::Field& f : in.synthetic.schema().fields()) {
    const std::optional<int> i = in.real.schema().FindField(f.name);
    if (!i.has_value())
      return absl::InvalidArgumentError(
          absl::StrCat(in.synthetic_name, ": column \"", f.name, "\" is not in ", in.real_name));
    if (in.real.schema().field(*i).type != f.type)
      return absl::InvalidArgumentError(
          absl::StrCat(in.synthetic_name, ": column \"", f.name, "\" is ",
                       table::internal::ToAbsl(table::DataTypeName(f.type)), " but ",
                       table::internal::ToAbsl(table::DataTypeName(in.real.schema().field(*i).type)), " in ",
                       in.real_name));
    names.push_back(f.name);
  }
  for (const table::Field& f : in.real.schema().fields()) {
    if (std::find(names.begin(), names.end(), f.name) == names.end()) rep.ignored.push_back(f.name);
  }
  Codec codec;
  if (in.domain.has_value()) {
    VEIL_ASSIGN_OR_RETURN(codec, IdentityCodec(*in.domain));
    rep.coding_source = "the domain file (both tables are codes)";
  } else {
    VEIL_ASSIGN_OR_RETURN(codec, ReportCodec(in.real, names, in.coding, rep.coding_source));
  }
  rep.coding = codec.Describe();
  for (size_t a = 0; a < codec.columns().size(); ++a) {
    if (!codec.columns()[a].categorical)
      rep.bins.emplace_back(codec.columns()[a].name, codec.Labels(static_cast<int>(a)));
  }
  const int d = codec.domain().num_attributes();
  VEIL_ASSIGN_OR_RETURN(const DiscreteTable real, codec.Encode(in.real));
  VEIL_ASSIGN_OR_RETURN(const DiscreteTable synth, codec.Encode(in.synthetic));

  // TVD and plots of the worst marginals.
  for (int k = 1; k <= std::min(3, d); ++k) {
    VEIL_ASSIGN_OR_RETURN(MarginalErrorSummary s, CompareMarginals(real, synth, k));
    VEIL_ASSIGN_OR_RETURN(const std::vector<double> mr, real.Marginal(s.worst_attrs));
    VEIL_ASSIGN_OR_RETURN(const std::vector<double> ms, synth.Marginal(s.worst_attrs));
    MarginalPlot plot;
    plot.tvd = s.worst_tvd;
    std::vector<std::vector<std::string>> labels;
    for (int a : s.worst_attrs) {
      plot.attrs.push_back(codec.domain().attribute(a).name);
      labels.push_back(codec.Labels(a));
    }
    const double nr = static_cast<double>(real.num_rows()), ns = static_cast<double>(synth.num_rows());
    std::vector<size_t> cells(mr.size());
    std::iota(cells.begin(), cells.end(), 0);
    std::stable_sort(cells.begin(), cells.end(), [&](size_t a, size_t b) {
      return std::max(mr[a] / nr, ms[a] / ns) > std::max(mr[b] / nr, ms[b] / ns);
    });
    if (cells.size() > kMaxPlotCells) cells.resize(kMaxPlotCells);
    for (size_t cell : cells) {
      // Decode the dense index (last attribute fastest).
      std::vector<std::string> parts(s.worst_attrs.size());
      size_t rest = cell;
      for (size_t i = s.worst_attrs.size(); i-- > 0;) {
        const size_t size = static_cast<size_t>(codec.domain().size(s.worst_attrs[i]));
        parts[i] = labels[i][rest % size];
        rest /= size;
      }
      plot.labels.push_back(absl::StrJoin(parts, " | "));
      plot.real.push_back(mr[cell] / nr);
      plot.synthetic.push_back(ms[cell] / ns);
    }
    rep.plots.push_back(std::move(plot));
    rep.tvd.push_back(std::move(s));
  }
  for (int a = 0; a < d; ++a) {
    const int attrs[] = {a};
    VEIL_ASSIGN_OR_RETURN(const std::vector<double> mr, real.Marginal(attrs));
    VEIL_ASSIGN_OR_RETURN(const std::vector<double> ms, synth.Marginal(attrs));
    rep.column_tvd.push_back(TotalVariation(mr, ms));
  }

  // Associations.
  AssociationSummary& as = rep.associations;
  as.columns = names;
  as.real.assign(d, std::vector<double>(d, 1.0));
  as.synthetic = as.real;
  as.diff.assign(d, std::vector<double>(d, 0.0));
  as.measure.assign(d, std::vector<std::string>(d, ""));
  int64_t pairs = 0;
  for (int i = 0; i < d; ++i) {
    for (int j = i + 1; j < d; ++j) {
      const int ci = *in.real.schema().FindField(names[i]), cj = *in.real.schema().FindField(names[j]);
      const int si = *in.synthetic.schema().FindField(names[i]),
                sj = *in.synthetic.schema().FindField(names[j]);
      double vr = 0, vs = 0;
      std::string measure;
      if (!in.domain.has_value() && internal::IsBinnedType(in.real.schema().field(ci).type) &&
          internal::IsBinnedType(in.real.schema().field(cj).type)) {
        measure = "pearson";
        vr = Pearson(in.real.column(ci), in.real.column(cj));
        vs = Pearson(in.synthetic.column(si), in.synthetic.column(sj));
      } else {
        measure = "cramer";
        const int attrs[] = {i, j};
        VEIL_ASSIGN_OR_RETURN(const std::vector<double> mr, real.Marginal(attrs));
        VEIL_ASSIGN_OR_RETURN(const std::vector<double> ms, synth.Marginal(attrs));
        vr = internal::CramersV(mr, codec.domain().size(i), codec.domain().size(j));
        vs = internal::CramersV(ms, codec.domain().size(i), codec.domain().size(j));
      }
      as.real[i][j] = as.real[j][i] = vr;
      as.synthetic[i][j] = as.synthetic[j][i] = vs;
      as.diff[i][j] = as.diff[j][i] = std::abs(vr - vs);
      as.measure[i][j] = as.measure[j][i] = measure;
      as.mean_diff += std::abs(vr - vs);
      if (std::abs(vr - vs) >= as.max_diff) {
        as.max_diff = std::abs(vr - vs);
        as.worst_pair = absl::StrCat(names[i], " / ", names[j], " (", measure, ")");
      }
      ++pairs;
    }
  }
  if (pairs > 0) as.mean_diff /= static_cast<double>(pairs);

  // Membership check and machine learning share the split.
  table::Table reference_raw, holdout_raw;
  if (in.test.has_value()) {
    reference_raw = in.real;
    holdout_raw = *in.test;
  } else {
    VEIL_ASSIGN_OR_RETURN(reference_raw, Rows(in.real, false));
    VEIL_ASSIGN_OR_RETURN(holdout_raw, Rows(in.real, true));
  }
  VEIL_ASSIGN_OR_RETURN(const DiscreteTable reference, codec.Encode(reference_raw));
  VEIL_ASSIGN_OR_RETURN(const DiscreteTable holdout, codec.Encode(holdout_raw));
  {
    MembershipSummary& m = rep.membership;
    m.reference_rows = reference.num_rows();
    m.synthetic_rows = synth.num_rows();
    m.holdout_rows = holdout.num_rows();
    const auto cols_of = [&](const table::Table& t) {
      std::vector<int> cols;
      for (const std::string& n : names) cols.push_back(*t.schema().FindField(n));
      return cols;
    };
    absl::flat_hash_set<std::string> raw_keys, coded_keys;
    const std::vector<int> ref_cols = cols_of(reference_raw);
    for (int64_t r = 0; r < reference_raw.num_rows(); ++r)
      raw_keys.insert(RawKey(reference_raw, ref_cols, r));
    for (int64_t r = 0; r < reference.num_rows(); ++r) coded_keys.insert(CodedKey(reference, r));
    const auto share = [&](const table::Table& t, const DiscreteTable& coded, double& raw, double& code) {
      const std::vector<int> cols = cols_of(t);
      int64_t hits_raw = 0, hits_coded = 0;
      for (int64_t r = 0; r < t.num_rows(); ++r) {
        hits_raw += raw_keys.contains(RawKey(t, cols, r));
        hits_coded += coded_keys.contains(CodedKey(coded, r));
      }
      const double n = static_cast<double>(std::max<int64_t>(1, t.num_rows()));
      raw = static_cast<double>(hits_raw) / n;
      code = static_cast<double>(hits_coded) / n;
    };
    share(in.synthetic, synth, m.synthetic_raw, m.synthetic_coded);
    share(holdout_raw, holdout, m.holdout_raw, m.holdout_coded);
  }
  {
    const std::string target = in.target.empty() ? names.back() : in.target;
    const auto it = std::find(names.begin(), names.end(), target);
    if (it == names.end())
      return absl::InvalidArgumentError(absl::StrCat("--target: no column \"", target, "\" in both files"));
    const int t = static_cast<int>(it - names.begin());
    VEIL_ASSIGN_OR_RETURN(rep.ml, TrainOnSyntheticTestOnReal(reference, synth, holdout, t, codec.Labels(t)));
    rep.ml.target = target;
    if (rep.ml.ran) {
      rep.ml.note = in.test.has_value() ? "trained on the real table, tested on the --test table"
                                        : "real rows 3, 6, 9, ... held out for testing; the others train";
    }
  }
  return rep;
}

namespace {

// A horizontal grouped bar chart: one row per cell, real (dark) and synthetic (light) bars.
std::string BarChart(const MarginalPlot& p) {
  const int label_w = 260, bar_w = 380, row_h = 18;
  const int h = static_cast<int>(p.labels.size()) * row_h + 30;
  double top = 1e-12;
  for (size_t i = 0; i < p.labels.size(); ++i) top = std::max({top, p.real[i], p.synthetic[i]});
  std::string s =
      absl::StrFormat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">",
                      label_w + bar_w + 70, h);
  for (size_t i = 0; i < p.labels.size(); ++i) {
    const int y = static_cast<int>(i) * row_h + 4;
    std::string label = p.labels[i];
    if (label.size() > 40) label = label.substr(0, 39) + "~";
    absl::StrAppend(&s, "<text x=\"", label_w - 6, "\" y=\"", y + 12,
                    "\" text-anchor=\"end\" font-size=\"11\">", base::HtmlEscape(label), "</text>");
    const double wr = p.real[i] / top * bar_w, ws = p.synthetic[i] / top * bar_w;
    absl::StrAppend(
        &s, absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"7\" fill=\"#1f4e79\"/>", label_w,
                            y + 2, wr));
    absl::StrAppend(
        &s, absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"7\" fill=\"#e8a33d\"/>", label_w,
                            y + 9, ws));
    absl::StrAppend(&s, absl::StrFormat("<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.3f / %.3f</text>",
                                        label_w + std::max(wr, ws) + 4, y + 13, p.real[i], p.synthetic[i]));
  }
  const int ly = h - 12;
  absl::StrAppend(&s, "<rect x=\"", label_w, "\" y=\"", ly - 8,
                  "\" width=\"10\" height=\"8\" fill=\"#1f4e79\"/>", "<text x=\"", label_w + 14, "\" y=\"",
                  ly, "\" font-size=\"11\">real</text>", "<rect x=\"", label_w + 60, "\" y=\"", ly - 8,
                  "\" width=\"10\" height=\"8\" fill=\"#e8a33d\"/>", "<text x=\"", label_w + 74, "\" y=\"",
                  ly, "\" font-size=\"11\">synthetic</text></svg>");
  return s;
}

std::string Row(std::initializer_list<std::string> cells) {
  std::string s = "<tr>";
  for (const std::string& c : cells) absl::StrAppend(&s, "<td>", c, "</td>");
  return s + "</tr>\n";
}

}  // namespace

std::string RenderHtml(const QualityReport& r) {
  using base::HtmlEscape;
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Synthetic data quality "
      "report</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px "
      "8px;text-align:left}"
      "th{background:#eee}td.n{text-align:right}.small{font-size:80%;color:#555}</style></head><body>\n";
  absl::StrAppend(&h, "<h1>Synthetic data quality report</h1>\n<p>Real: <code>", HtmlEscape(r.real_name),
                  "</code> (", r.real_rows, " rows). Synthetic: <code>", HtmlEscape(r.synthetic_name),
                  "</code> (", r.synthetic_rows, " rows).</p>\n");
  if (!r.ignored.empty()) {
    std::vector<std::string> esc;
    for (const std::string& c : r.ignored) esc.push_back(HtmlEscape(c));
    absl::StrAppend(&h, "<p class=\"small\">Real columns not in the synthetic data (not compared): ",
                    absl::StrJoin(esc, ", "), "</p>\n");
  }
  absl::StrAppend(&h,
                  "<h2>Marginals: total variation distance</h2>\n<table><tr><th>k</th><th>marginals</th>"
                  "<th>average TVD</th><th>worst TVD</th><th>worst marginal</th></tr>\n");
  for (const MarginalErrorSummary& s : r.tvd) {
    std::vector<std::string> attrs;
    for (const std::string& a : r.plots[s.way - 1].attrs) attrs.push_back(HtmlEscape(a));
    absl::StrAppend(&h, Row({absl::StrCat(s.way), absl::StrCat(s.marginals), Fixed(s.average_tvd),
                             Fixed(s.worst_tvd), absl::StrJoin(attrs, ", ")}));
  }
  absl::StrAppend(&h,
                  "</table>\n<p class=\"small\">TVD = &frac12; &sum; |p &minus; q| over the cells of a "
                  "marginal, each table normalized by its own row count.</p>\n");
  for (const MarginalPlot& p : r.plots) {
    std::vector<std::string> attrs;
    for (const std::string& a : p.attrs) attrs.push_back(HtmlEscape(a));
    absl::StrAppend(&h, "<h3>Worst ", p.attrs.size(), "-way marginal: ", absl::StrJoin(attrs, " &times; "),
                    " (TVD ", Fixed(p.tvd), ")</h3>\n", BarChart(p), "\n");
  }
  absl::StrAppend(&h,
                  "<h3>Per column</h3>\n<p class=\"small\">Both tables are coded the same way before "
                  "any marginal is computed; coding from ",
                  HtmlEscape(r.coding_source), ".</p>\n",
                  "<table><tr><th>column</th><th>coding</th><th>1-way TVD</th></tr>\n");
  for (size_t i = 0; i < r.coding.size(); ++i) {
    absl::StrAppend(
        &h, Row({HtmlEscape(r.associations.columns[i]), HtmlEscape(r.coding[i]), Fixed(r.column_tvd[i])}));
  }
  absl::StrAppend(&h, "</table>\n");
  if (!r.bins.empty()) {
    absl::StrAppend(&h,
                    "<h3>Bins of the numeric columns</h3>\n<table><tr><th>column</th><th>bins</th></tr>\n");
    for (const auto& [column, labels] : r.bins) {
      std::vector<std::string> esc;
      for (const std::string& l : labels) esc.push_back(HtmlEscape(l));
      absl::StrAppend(&h, Row({HtmlEscape(column), absl::StrJoin(esc, " &nbsp;|&nbsp; ")}));
    }
    absl::StrAppend(&h, "</table>\n");
  }

  const AssociationSummary& as = r.associations;
  absl::StrAppend(&h, "<h2>Associations</h2>\n<p>Mean |difference| over pairs: ", Fixed(as.mean_diff),
                  "; largest: ", Fixed(as.max_diff), " (", HtmlEscape(as.worst_pair),
                  "). Pearson's r for two numeric columns, Cramer's V otherwise.</p>\n");
  if (as.columns.size() <= 40) {
    absl::StrAppend(&h, "<table><tr><th></th>");
    for (const std::string& c : as.columns) absl::StrAppend(&h, "<th>", HtmlEscape(c), "</th>");
    absl::StrAppend(&h, "</tr>\n");
    for (size_t i = 0; i < as.columns.size(); ++i) {
      absl::StrAppend(&h, "<tr><th>", HtmlEscape(as.columns[i]), "</th>");
      for (size_t j = 0; j < as.columns.size(); ++j) {
        const double v = as.diff[i][j];
        const int shade = 255 - static_cast<int>(std::min(1.0, v * 4) * 155);
        absl::StrAppend(&h, absl::StrFormat("<td class=\"n\" style=\"background:rgb(255,%d,%d)\">%s</td>",
                                            shade, shade, i == j ? "" : Fixed(v, 2)));
      }
      absl::StrAppend(&h, "</tr>\n");
    }
    absl::StrAppend(&h, "</table>\n");
  }

  const MlSummary& ml = r.ml;
  absl::StrAppend(&h, "<h2>Machine learning: train on synthetic, test on real</h2>\n<p>Target <code>",
                  HtmlEscape(ml.target), "</code>, positive class: ", HtmlEscape(ml.positive), "; ",
                  HtmlEscape(ml.note), ".</p>\n");
  if (ml.ran) {
    absl::StrAppend(
        &h, "<table><tr><th>trained on</th><th>rows</th><th>accuracy</th><th>AUC</th></tr>\n",
        Row({"real", absl::StrCat(ml.train_real_rows), Fixed(ml.real_accuracy), Fixed(ml.real_auc)}),
        Row({"synthetic", absl::StrCat(ml.train_synthetic_rows), Fixed(ml.synthetic_accuracy),
             Fixed(ml.synthetic_auc)}),
        Row({"(majority class)", "", Fixed(ml.majority_accuracy), "0.5000"}), "</table>\n",
        "<p class=\"small\">Logistic regression (L2 penalty 1, Newton's method) on one-hot codes of ",
        ml.features - 1, " feature values; tested on ", ml.test_rows, " real rows.</p>\n");
  }

  const MembershipSummary& m = r.membership;
  absl::StrAppend(
      &h, "<h2>Membership check</h2>\n<p>Share of rows identical to a row of the real training rows (",
      m.reference_rows,
      " rows):</p>\n<table><tr><th>rows</th><th>count</th><th>raw values</th><th>coded</th></tr>\n",
      Row({"synthetic", absl::StrCat(m.synthetic_rows), Fixed(m.synthetic_raw), Fixed(m.synthetic_coded)}),
      Row({"real held out (expected by chance)", absl::StrCat(m.holdout_rows), Fixed(m.holdout_raw),
           Fixed(m.holdout_coded)}),
      "</table>\n<p class=\"small\">Held-out real rows come from the same population without being copied: a "
      "synthetic rate well above theirs would mean real rows are being reproduced.</p>\n");

  absl::StrAppend(&h,
                  "<h2>Privacy</h2>\n<p>This report is a post-hoc utility measurement by the data owner: it "
                  "reads the real data exactly (marginals, bins at the real quantiles when the synthesizer's "
                  "coding is not used, model accuracy, row matches) and is <strong>not</strong> a "
                  "differentially private release. Keep it with the real data; only the synthetic data and "
                  "its sidecar carry the guarantee below.</p>\n");
  if (!r.privacy.has_value()) {
    absl::StrAppend(
        &h, "<p>No sidecar (SYNTH.csv.synth.json) was found: the privacy parameters are unknown.</p>\n");
  } else {
    const PrivacyInfo& p = *r.privacy;
    absl::StrAppend(&h, "<p>Method ", HtmlEscape(p.method), "; (epsilon, delta) = (",
                    absl::StrFormat("%.6g", p.epsilon), ", ", absl::StrFormat("%.6g", p.delta),
                    "), guaranteed epsilon ", absl::StrFormat("%.6g", p.guaranteed_epsilon), "; ",
                    p.ledger ? absl::StrCat("charged to the budget of dataset <code>", HtmlEscape(p.dataset),
                                            "</code> and audited")
                             : std::string("plain-CSV mode: not charged to any ledger"),
                    ". Source: <code>", HtmlEscape(p.source), "</code>.</p>\n<h3>Coding</h3><ul>\n");
    for (const std::string& c : p.columns) absl::StrAppend(&h, "<li>", HtmlEscape(c), "</li>\n");
    absl::StrAppend(&h, "</ul>\n<h3>Measurements (", p.measurements.size(),
                    ")</h3>\n<table><tr><th>what</th><th>rho (zCDP)</th></tr>\n");
    for (const ZcdpBudget::Entry& e : p.measurements)
      absl::StrAppend(&h, Row({HtmlEscape(e.name), absl::StrFormat("%.6g", e.rho)}));
    absl::StrAppend(&h, "</table>\n");
  }
  absl::StrAppend(&h, "</body></html>\n");
  return h;
}

absl::StatusOr<std::string> ReportJson(const QualityReport& r) {
  nlohmann::ordered_json j;
  j["real"] = {{"file", r.real_name}, {"rows", r.real_rows}};
  j["synthetic"] = {{"file", r.synthetic_name}, {"rows", r.synthetic_rows}};
  j["ignored_columns"] = r.ignored;
  j["coding"] = r.coding;
  j["coding_source"] = r.coding_source;
  nlohmann::ordered_json bins = nlohmann::ordered_json::object();
  for (const auto& [column, labels] : r.bins) bins[column] = labels;
  j["bins"] = bins;
  nlohmann::ordered_json tvd = nlohmann::ordered_json::array();
  for (const MarginalErrorSummary& s : r.tvd) {
    tvd.push_back({{"k", s.way},
                   {"marginals", s.marginals},
                   {"average", s.average_tvd},
                   {"worst", s.worst_tvd},
                   {"worst_marginal", r.plots[s.way - 1].attrs}});
  }
  j["tvd"] = tvd;
  nlohmann::ordered_json cols = nlohmann::ordered_json::object();
  for (size_t i = 0; i < r.column_tvd.size(); ++i) cols[r.associations.columns[i]] = r.column_tvd[i];
  j["column_tvd"] = cols;
  j["associations"] = {{"mean_abs_diff", r.associations.mean_diff},
                       {"max_abs_diff", r.associations.max_diff},
                       {"worst_pair", r.associations.worst_pair},
                       {"columns", r.associations.columns},
                       {"diff", r.associations.diff}};
  const MlSummary& ml = r.ml;
  j["ml"] = {{"ran", ml.ran},
             {"note", ml.note},
             {"target", ml.target},
             {"positive", ml.positive},
             {"features", ml.features},
             {"train_real_rows", ml.train_real_rows},
             {"train_synthetic_rows", ml.train_synthetic_rows},
             {"test_rows", ml.test_rows},
             {"real", {{"accuracy", ml.real_accuracy}, {"auc", ml.real_auc}}},
             {"synthetic", {{"accuracy", ml.synthetic_accuracy}, {"auc", ml.synthetic_auc}}},
             {"majority_accuracy", ml.majority_accuracy}};
  const MembershipSummary& m = r.membership;
  j["membership"] = {{"reference_rows", m.reference_rows},    {"synthetic_rows", m.synthetic_rows},
                     {"holdout_rows", m.holdout_rows},        {"synthetic_match_raw", m.synthetic_raw},
                     {"holdout_match_raw", m.holdout_raw},    {"synthetic_match_coded", m.synthetic_coded},
                     {"holdout_match_coded", m.holdout_coded}};
  if (r.privacy.has_value()) {
    const PrivacyInfo& p = *r.privacy;
    nlohmann::ordered_json ms = nlohmann::ordered_json::array();
    for (const ZcdpBudget::Entry& e : p.measurements) ms.push_back({{"name", e.name}, {"rho", e.rho}});
    j["privacy"] = {{"sidecar", p.source},
                    {"method", p.method},
                    {"epsilon", p.epsilon},
                    {"delta", p.delta},
                    {"guaranteed_epsilon", p.guaranteed_epsilon},
                    {"ledger", p.ledger},
                    {"dataset", p.dataset},
                    {"columns", p.columns},
                    {"measurements", ms}};
  } else {
    j["privacy"] = nullptr;
  }
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ReportSummary(const QualityReport& r) {
  std::string s;
  for (const MarginalErrorSummary& t : r.tvd) {
    absl::StrAppend(&s, t.way, "-way TVD: average ", Fixed(t.average_tvd), ", worst ", Fixed(t.worst_tvd),
                    " (", absl::StrJoin(r.plots[t.way - 1].attrs, ", "), ")\n");
  }
  absl::StrAppend(&s, "Associations: mean |diff| ", Fixed(r.associations.mean_diff), ", max ",
                  Fixed(r.associations.max_diff), " (", r.associations.worst_pair, ")\n");
  if (r.ml.ran) {
    absl::StrAppend(&s, "Predicting ", r.ml.target, ": trained on real accuracy ", Fixed(r.ml.real_accuracy),
                    " AUC ", Fixed(r.ml.real_auc), "; trained on synthetic accuracy ",
                    Fixed(r.ml.synthetic_accuracy), " AUC ", Fixed(r.ml.synthetic_auc), "\n");
  } else {
    absl::StrAppend(&s, "Machine learning ", r.ml.note, "\n");
  }
  absl::StrAppend(&s, "Rows identical to a real training row: synthetic ",
                  Fixed(r.membership.synthetic_coded), " coded / ", Fixed(r.membership.synthetic_raw),
                  " raw; real held-out ", Fixed(r.membership.holdout_coded), " coded / ",
                  Fixed(r.membership.holdout_raw), " raw\n");
  return s;
}

}  // namespace veil::synth
