#include "veil/pii/evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "veil/base/absl_compat.h"
#include "veil/base/splitmix.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/pii/checksums.h"

namespace veil::pii {
namespace {
// Debian's Abseil does not alias absl::string_view to std::string_view.
using base::ToAbsl;
}  // namespace

namespace internal {

absl::StatusOr<std::vector<size_t>> CodePointByteOffsets(std::string_view text) {
  if (const size_t bad = base::FindInvalidUtf8(text); bad != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", bad));
  }
  // Well-formed: every byte that is not a continuation byte starts a code point.
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(text.size());
  return offsets;
}

bool IouAtLeast(size_t a_begin, size_t a_end, size_t b_begin, size_t b_end, double threshold) {
  const size_t lo = std::max(a_begin, b_begin);
  const size_t hi = std::min(a_end, b_end);
  if (hi <= lo) return false;  // no overlap (threshold is > 0)
  const uint64_t intersection = hi - lo;
  const uint64_t union_size = std::max(a_end, b_end) - std::min(a_begin, b_begin);
  const auto ppm = static_cast<unsigned __int128>(std::llround(threshold * 1e6));
  return static_cast<unsigned __int128>(intersection) * 1000000 >= ppm * union_size;
}

bool HasLuhnValidDigitRun(std::string_view text) {
  auto is_digit = [&](size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(i)) {
      ++i;
      continue;
    }
    std::string digits;
    while (true) {
      while (is_digit(i)) digits += text[i++];
      if (i < text.size() && (text[i] == ' ' || text[i] == '-') && is_digit(i + 1)) {
        ++i;
        continue;
      }
      break;
    }
    if (digits.size() >= 13 && digits.size() <= 19 && LuhnValid(digits)) return true;
  }
  return false;
}

namespace {

// Decodes the code point at `i` (text is expected to be valid UTF-8; an invalid byte decodes as itself, one
// byte long, which Tokenize takes as a word character).
uint32_t DecodeAt(std::string_view text, size_t i, size_t& len) {
  const auto c = static_cast<unsigned char>(text[i]);
  size_t n = c < 0x80                   ? 1
             : (c >= 0xC2 && c <= 0xDF) ? 2
             : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4
                                        : 0;
  if (n == 0 || i + n > text.size()) {
    len = 1;
    return 0x80;  // a non-ASCII word character
  }
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) {
      len = 1;
      return 0x80;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  len = n;
  return cp;
}

bool IsSpaceCp(uint32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool IsDigitCp(uint32_t c) { return c >= '0' && c <= '9'; }
bool IsWordCp(uint32_t c) {
  if (c < 0x80) return IsDigitCp(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (IsSpaceCp(c)) return false;
  if ((c >= 0xA1 && c <= 0xBF) || c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2010 && c <= 0x205E) return false;
  return true;
}
bool IsConnector(uint32_t c) {
  switch (c) {
    case '.':
    case '-':
    case '@':
    case '/':
    case ':':
    case '_':
    case '\'':
    case '+':
    case '=':
    case '?':
    case '&':
    case '%':
    case '#':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    size_t len;
    const uint32_t c = DecodeAt(text, i, len);
    if (IsSpaceCp(c)) {
      i += len;
      continue;
    }
    if (!IsWordCp(c)) {
      tokens.push_back({i, i + len});
      i += len;
      continue;
    }
    // A word: word characters, continued across connectors followed by a word character.
    const size_t begin = i;
    uint32_t last = c;  // the last word character taken
    i += len;
    while (i < text.size()) {
      uint32_t d = DecodeAt(text, i, len);
      if (IsWordCp(d)) {
        last = d;
        i += len;
        continue;
      }
      // A run of connectors, or a single ',' between digits, joins when a word character follows.
      size_t j = i;
      if (d == ',') {
        if (!IsDigitCp(last)) break;
        j += len;
      } else {
        while (j < text.size() && IsConnector(d)) {
          j += len;
          if (j < text.size()) d = DecodeAt(text, j, len);
        }
        if (j == i) break;
      }
      if (j >= text.size()) break;
      size_t next_len;
      const uint32_t next = DecodeAt(text, j, next_len);
      if (!IsWordCp(next) || (text[i] == ',' && !IsDigitCp(next))) break;
      i = j;
    }
    tokens.push_back({begin, i});
  }
  return tokens;
}

}  // namespace internal

namespace {

using internal::IouAtLeast;

// Dataset type name -> Veil scoring type. Names Veil shares map to themselves (EntityFromName).
constexpr std::pair<std::string_view, EntityType> kDatasetAliases[] = {
    {"GPE", EntityType::kLocation},
    {"DOMAIN_NAME", EntityType::kUrl},
};

absl::Status FieldError(size_t sample, std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("samples[", sample, "].", ToAbsl(field), ": ", ToAbsl(what)));
}

// Finds where a JSON text stops being valid: nlohmann's SAX interface reports the error as an argument, so no
// exception is thrown (DESIGN.md 5.1).
class ErrorFinder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    position_ = position;
    message_ = e.what();
    return false;
  }
  size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  size_t position_ = 0;
  std::string message_;
};

absl::StatusOr<size_t> GetOffset(const nlohmann::json& span, std::string_view name, size_t sample,
                                 size_t index) {
  const std::string field = absl::StrCat("spans[", index, "].", ToAbsl(name));
  auto it = span.find(std::string(name));
  if (it == span.end()) return FieldError(sample, field, "missing");
  if (!it->is_number_integer()) return FieldError(sample, field, "not an integer");
  if (it->is_number_unsigned()) return static_cast<size_t>(it->get<uint64_t>());
  const int64_t v = it->get<int64_t>();
  if (v < 0) return FieldError(sample, field, absl::StrCat(v, " is negative"));
  return static_cast<size_t>(v);
}

// Code point index of each byte offset that starts a code point (and of text.size()); npos elsewhere.
std::vector<size_t> CodePointIndexByByte(const std::vector<size_t>& byte_offsets, size_t text_size) {
  std::vector<size_t> index(text_size + 1, std::string::npos);
  for (size_t cp = 0; cp < byte_offsets.size(); ++cp) index[byte_offsets[cp]] = cp;
  return index;
}

struct Interval {
  size_t begin;  // code points
  size_t end;
  int type;  // scoring type, or -1 for out of scope
};

// One-to-one greedy matching of gold and predicted intervals, best overlap first. `same_type` requires equal
// types. Returns, for each prediction, the gold index it matched or -1; and for each gold, whether matched.
void Match(const std::vector<Interval>& gold, const std::vector<Interval>& pred, double threshold,
           bool same_type, std::vector<int>& pred_match, std::vector<bool>& gold_matched) {
  struct Pair {
    double iou;
    size_t g;
    size_t p;
  };
  std::vector<Pair> pairs;
  for (size_t g = 0; g < gold.size(); ++g) {
    for (size_t p = 0; p < pred.size(); ++p) {
      if (same_type && gold[g].type != pred[p].type) continue;
      if (!IouAtLeast(gold[g].begin, gold[g].end, pred[p].begin, pred[p].end, threshold)) continue;
      const double inter =
          static_cast<double>(std::min(gold[g].end, pred[p].end) - std::max(gold[g].begin, pred[p].begin));
      const double uni =
          static_cast<double>(std::max(gold[g].end, pred[p].end) - std::min(gold[g].begin, pred[p].begin));
      pairs.push_back({inter / uni, g, p});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return std::tie(b.iou, a.g, a.p) < std::tie(a.iou, b.g, b.p);
  });
  pred_match.assign(pred.size(), -1);
  gold_matched.assign(gold.size(), false);
  for (const Pair& pr : pairs) {
    if (gold_matched[pr.g] || pred_match[pr.p] >= 0) continue;
    gold_matched[pr.g] = true;
    pred_match[pr.p] = static_cast<int>(pr.g);
  }
}

}  // namespace

std::optional<EntityType> MapDatasetEntity(std::string_view dataset_type) {
  for (const auto& [name, type] : kDatasetAliases) {
    if (name == dataset_type) return type;
  }
  std::optional<EntityType> t = EntityFromName(dataset_type);
  if (!t.has_value()) return std::nullopt;
  return ScoringType(*t);
}

EntityType ScoringType(EntityType type) { return type == EntityType::kDomainName ? EntityType::kUrl : type; }

double Counts::Precision() const {
  return predicted() == 0 ? std::numeric_limits<double>::quiet_NaN()
                          : static_cast<double>(tp) / static_cast<double>(predicted());
}
double Counts::Recall() const {
  return gold() == 0 ? std::numeric_limits<double>::quiet_NaN()
                     : static_cast<double>(tp) / static_cast<double>(gold());
}
double Counts::F(double beta) const {
  const double p = Precision();
  const double r = Recall();
  if (std::isnan(p) || std::isnan(r)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0 && r == 0) return 0;
  const double b2 = beta * beta;
  return (1 + b2) * p * r / (b2 * p + r);
}

absl::StatusOr<LabeledDataset> ParsePresidioDataset(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    ErrorFinder finder;
    nlohmann::json::sax_parse(json, &finder);
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (byte ", finder.position(), "): ", finder.message()));
  }
  if (!doc.is_array())
    return absl::InvalidArgumentError("not a presidio-research dataset: expected a JSON array");
  LabeledDataset out;
  out.samples.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& sample = doc[i];
    if (!sample.is_object())
      return absl::InvalidArgumentError(absl::StrCat("samples[", i, "]: not an object"));
    auto text_it = sample.find("full_text");
    if (text_it == sample.end()) return FieldError(i, "full_text", "missing");
    if (!text_it->is_string()) return FieldError(i, "full_text", "not a string");
    LabeledSample ls;
    ls.text = text_it->get<std::string>();
    absl::StatusOr<std::vector<size_t>> offsets = internal::CodePointByteOffsets(ls.text);
    if (!offsets.ok()) return FieldError(i, "full_text", std::string(offsets.status().message()));
    const size_t num_cp = offsets->size() - 1;
    auto spans_it = sample.find("spans");
    if (spans_it == sample.end()) return FieldError(i, "spans", "missing");
    if (!spans_it->is_array()) return FieldError(i, "spans", "not an array");
    for (size_t k = 0; k < spans_it->size(); ++k) {
      const nlohmann::json& span = (*spans_it)[k];
      const std::string prefix = absl::StrCat("spans[", k, "]");
      if (!span.is_object()) return FieldError(i, prefix, "not an object");
      auto type_it = span.find("entity_type");
      if (type_it == span.end()) return FieldError(i, prefix + ".entity_type", "missing");
      if (!type_it->is_string()) return FieldError(i, prefix + ".entity_type", "not a string");
      VEIL_ASSIGN_OR_RETURN(const size_t start, GetOffset(span, "start_position", i, k));
      VEIL_ASSIGN_OR_RETURN(const size_t end, GetOffset(span, "end_position", i, k));
      if (end > num_cp) {
        return FieldError(i, prefix + ".end_position",
                          absl::StrCat(end, " is beyond the text (", num_cp, " code points)"));
      }
      if (start >= end) {
        return FieldError(i, prefix + ".start_position",
                          absl::StrCat(start, " is not before end_position ", end));
      }
      GoldSpan gold;
      gold.begin = (*offsets)[start];
      gold.end = (*offsets)[end];
      gold.dataset_type = type_it->get<std::string>();
      gold.type = MapDatasetEntity(gold.dataset_type);
      auto value_it = span.find("entity_value");
      if (value_it != span.end()) {
        if (!value_it->is_string()) return FieldError(i, prefix + ".entity_value", "not a string");
        if (value_it->get_ref<const std::string&>() !=
            std::string_view(ls.text).substr(gold.begin, gold.end - gold.begin)) {
          return FieldError(i, prefix + ".entity_value", "differs from full_text at the span's offsets");
        }
      }
      ++out.gold_by_dataset_type[gold.dataset_type];
      if (!gold.type.has_value()) ++out.out_of_scope_by_dataset_type[gold.dataset_type];
      ls.spans.push_back(std::move(gold));
    }
    std::sort(ls.spans.begin(), ls.spans.end(), [](const GoldSpan& a, const GoldSpan& b) {
      return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    out.text_bytes += ls.text.size();
    out.samples.push_back(std::move(ls));
  }
  return out;
}

absl::Status ScoreSample(std::string_view text, std::span<const GoldSpan> gold,
                         std::span<const Span> predicted, const EvalOptions& options, EvalReport& report) {
  if (!(options.iou_threshold > 0 && options.iou_threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("iou_threshold ", options.iou_threshold, " is not in (0, 1]"));
  }
  VEIL_ASSIGN_OR_RETURN(const std::vector<size_t> offsets, internal::CodePointByteOffsets(text));
  const std::vector<size_t> cp_at = CodePointIndexByByte(offsets, text.size());
  auto in_scope = [&](EntityType t) {
    return options.entities.empty() ||
           std::find(options.entities.begin(), options.entities.end(), t) != options.entities.end();
  };
  auto to_interval = [&](size_t begin, size_t end, int type,
                         std::string_view what) -> absl::StatusOr<Interval> {
    if (begin > end || end > text.size() || cp_at[begin] == std::string::npos ||
        cp_at[end] == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(what), " [", begin, ", ", end,
                                                     ") is outside the text (", text.size(),
                                                     " bytes) or not on code point boundaries"));
    }
    return Interval{cp_at[begin], cp_at[end], type};
  };

  std::vector<Interval> gold_in, gold_out, pred;
  for (const GoldSpan& g : gold) {
    const bool scored = g.type.has_value() && in_scope(*g.type);
    VEIL_ASSIGN_OR_RETURN(Interval iv,
                          to_interval(g.begin, g.end, scored ? static_cast<int>(*g.type) : -1, "gold span"));
    (scored ? gold_in : gold_out).push_back(iv);
  }
  for (const Span& s : predicted) {
    const EntityType t = ScoringType(s.type);
    if (!in_scope(t)) continue;
    VEIL_ASSIGN_OR_RETURN(Interval iv, to_interval(s.begin, std::min(s.end, text.size()), static_cast<int>(t),
                                                   "predicted span"));
    pred.push_back(iv);
  }

  std::vector<int> pred_match;
  std::vector<bool> gold_matched;
  Match(gold_in, pred, options.iou_threshold, /*same_type=*/true, pred_match, gold_matched);
  for (size_t p = 0; p < pred.size(); ++p) {
    Counts& c = report.per_type[pred[p].type];
    if (pred_match[p] >= 0) {
      ++c.tp;
      continue;
    }
    ++c.fp;
    for (const Interval& o : gold_out) {
      if (IouAtLeast(o.begin, o.end, pred[p].begin, pred[p].end, options.iou_threshold)) {
        ++report.fp_on_out_of_scope;
        break;
      }
    }
  }
  for (size_t g = 0; g < gold_in.size(); ++g) {
    if (!gold_matched[g]) ++report.per_type[gold_in[g].type].fn;
  }
  Counts overall;
  for (size_t p = 0; p < pred.size(); ++p) (pred_match[p] >= 0 ? overall.tp : overall.fp) += 1;
  for (bool m : gold_matched) overall.fn += m ? 0 : 1;
  report.overall += overall;

  Match(gold_in, pred, options.iou_threshold, /*same_type=*/false, pred_match, gold_matched);
  Counts any;
  for (int m : pred_match) (m >= 0 ? any.tp : any.fp) += 1;
  for (bool m : gold_matched) any.fn += m ? 0 : 1;
  report.any_pii += any;

  // Token level: each token's gold and predicted type (-1 for O), from the intervals (code points).
  auto tag = [](const std::vector<Interval>& spans, size_t begin, size_t end) {
    int type = -1;
    size_t best = 0;
    for (const Interval& iv : spans) {
      const size_t lo = std::max(begin, iv.begin);
      const size_t hi = std::min(end, iv.end);
      if (hi > lo && hi - lo > best) {
        best = hi - lo;
        type = iv.type;
      }
    }
    return type;
  };
  for (const internal::Token& tok : internal::Tokenize(text)) {
    const size_t begin = cp_at[tok.begin];
    const size_t end = cp_at[tok.end];
    const int g = tag(gold_in, begin, end);
    const int p = tag(pred, begin, end);
    ++report.tokens;
    if (g >= 0 && p >= 0) {
      ++report.token_pii.tp;
    } else if (g >= 0) {
      ++report.token_pii.fn;
    } else if (p >= 0) {
      ++report.token_pii.fp;
    }
    if (g >= 0 && g == p) {
      ++report.token_per_type[g].tp;
      continue;
    }
    if (g >= 0) ++report.token_per_type[g].fn;
    if (p >= 0) ++report.token_per_type[p].fp;
  }
  ++report.samples;
  return absl::OkStatus();
}

// Hard negatives -------------------------------------------------------------------------------------------

namespace {

// The hard negatives' generator: base::SplitMix64 (reproducible data, not privacy randomness) with helpers
// for the values the templates need.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : bits_(seed) {}
  uint64_t Below(uint64_t n) { return bits_.Below(n); }
  int64_t Between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(hi - lo + 1)); }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + Below(10));
    return s;
  }
  std::string Hex(int n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < n; ++i) s += kHex[Below(16)];
    return s;
  }
  template <typename T, size_t N>
  const T& Pick(const T (&options)[N]) {
    return options[Below(N)];
  }

 private:
  base::SplitMix64 bits_;
};

constexpr std::string_view kKindNames[kHardNegativeKindCount] = {
    "order_number",     "unix_timestamp", "version",       "luhn_failing_16", "iban_failing_mod97",
    "ssn_invalid_area", "invoice_id",     "invalid_phone", "hex_hash",        "uuid",
    "quantity"};

// Puts `value` into a template where "{}" marks its place.
HardNegative Fill(HardNegativeKind kind, std::string_view tmpl, std::string value) {
  const size_t at = tmpl.find("{}");
  std::string text = absl::StrCat(ToAbsl(tmpl.substr(0, at)), value, ToAbsl(tmpl.substr(at + 2)));
  return HardNegative{kind, std::move(text), std::move(value)};
}

std::string Grouped(std::string_view s, size_t group, char sep) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i % group == 0) out += sep;
    out += s[i];
  }
  return out;
}

HardNegative Generate(HardNegativeKind kind, SplitMix& rng) {
  switch (kind) {
    case HardNegativeKind::kOrderNumber: {
      static constexpr std::string_view kT[] = {"Order #{} has shipped.", "Your order number is {}.",
                                                "Re: order {} - delivery update",
                                                "We received your return for order {} yesterday."};
      return Fill(kind, rng.Pick(kT),
                  absl::StrCat(rng.Between(1, 9), rng.Digits(static_cast<int>(rng.Between(6, 9)))));
    }
    case HardNegativeKind::kUnixTimestamp: {
      static constexpr std::string_view kT[] = {"ts={} event=login_ok", "created_at: {}",
                                                "Cache entry expires at {} (epoch).",
                                                "last_modified={} size=4096"};
      const int64_t seconds = rng.Between(1500000000, 1799999999);
      return Fill(kind, rng.Pick(kT),
                  rng.Below(2) == 0 ? absl::StrCat(seconds) : absl::StrCat(seconds, rng.Digits(3)));
    }
    case HardNegativeKind::kVersion: {
      static constexpr std::string_view kT[] = {
          "Upgrade to version {} is available.", "Running {} on node 7.",
          "Fixed in version {}; please update.", "The changelog for {} lists three fixes."};
      const std::string_view tmpl = rng.Pick(kT);
      const bool four = rng.Below(2) == 0;
      std::string v = absl::StrCat(rng.Between(1, 20), ".", rng.Between(0, 30), ".", rng.Between(0, 60));
      if (four) absl::StrAppend(&v, ".", rng.Between(0, 250));
      // "Running {}" and "The changelog for {}" carry no "version" word, so those get the "v" prefix.
      if (tmpl.find("version") == std::string_view::npos) v = "v" + v;
      return Fill(kind, tmpl, std::move(v));
    }
    case HardNegativeKind::kLuhnFailing16: {
      static constexpr std::string_view kT[] = {"Reference number {}", "Tracking: {}",
                                                "Please quote {} when you call.", "Batch {} was processed."};
      static constexpr std::string_view kPrefixes[] = {"4", "51", "52", "53", "54", "55", "6011"};
      std::string digits(rng.Pick(kPrefixes));
      digits += rng.Digits(static_cast<int>(15 - digits.size()));
      int check = 0;
      while (!internal::LuhnValid(digits + static_cast<char>('0' + check))) ++check;
      digits += static_cast<char>('0' + (check + 1 + rng.Below(9)) % 10);  // any digit but the right one
      return Fill(kind, rng.Pick(kT), rng.Below(2) == 0 ? digits : Grouped(digits, 4, ' '));
    }
    case HardNegativeKind::kIbanFailingMod97: {
      static constexpr std::string_view kT[] = {"Account reference {}", "Transfer id {} (internal)",
                                                "Ledger key: {}", "See record {} for details."};
      // GB: 4 letters + 14 digits; DE: 18 digits; NL: 4 letters + 10 digits (ISO 13616 country formats).
      std::string country, bban;
      switch (rng.Below(3)) {
        case 0:
          country = "GB";
          for (int i = 0; i < 4; ++i) bban += static_cast<char>('A' + rng.Below(26));
          bban += rng.Digits(14);
          break;
        case 1:
          country = "DE";
          bban = rng.Digits(18);
          break;
        default:
          country = "NL";
          for (int i = 0; i < 4; ++i) bban += static_cast<char>('A' + rng.Below(26));
          bban += rng.Digits(10);
      }
      std::string iban;
      do {
        iban = absl::StrCat(country, absl::StrFormat("%02d", rng.Below(100)), bban);
      } while (internal::IbanValid(iban));
      return Fill(kind, rng.Pick(kT), rng.Below(2) == 0 ? iban : Grouped(iban, 4, ' '));
    }
    case HardNegativeKind::kSsnInvalidArea: {
      static constexpr std::string_view kT[] = {"Ticket {} was closed.", "Part no. {}", "Case file {}",
                                                "Lot {} passed inspection."};
      static constexpr int kBadAreas[] = {0, 666, 900};
      int area = rng.Pick(kBadAreas);
      int group = static_cast<int>(rng.Between(1, 99));
      if (area == 900) {
        // 9xx is the US ITIN's area, and an ITIN's group is 50-65, 70-88, 90-92 or 94-99: keep the group
        // below 50 so that the number is no valid ITIN either.
        area += static_cast<int>(rng.Below(100));
        group = static_cast<int>(rng.Between(1, 49));
      }
      return Fill(kind, rng.Pick(kT), absl::StrFormat("%03d-%02d-%04d", area, group, rng.Between(1, 9999)));
    }
    case HardNegativeKind::kInvoiceId: {
      static constexpr std::string_view kT[] = {"Invoice {} is due on receipt.", "Please pay {} by transfer.",
                                                "Credit note {} was issued.", "PO {} approved."};
      static constexpr std::string_view kPrefixes[] = {"INV", "PO", "CN", "ORD"};
      return Fill(kind, rng.Pick(kT),
                  absl::StrFormat("%s-%d-%06d", ToAbsl(rng.Pick(kPrefixes)), rng.Between(2015, 2030),
                                  rng.Between(1, 999999)));
    }
    case HardNegativeKind::kInvalidPhone: {
      static constexpr std::string_view kT[] = {"Dial {} for the hotline.", "Fax: {}", "Extension list: {}",
                                                "Code {} was rejected."};
      // NANP area codes never start with 0 or 1.
      return Fill(kind, rng.Pick(kT),
                  absl::StrFormat("+1 (%d%02d) %03d-%04d", rng.Below(2), rng.Below(100),
                                  rng.Between(200, 999), rng.Below(10000)));
    }
    case HardNegativeKind::kHexHash: {
      static constexpr std::string_view kT[] = {"commit {}", "sha256: {}", "ETag: \"{}\"",
                                                "Checksum {} verified."};
      static constexpr int kLengths[] = {32, 40, 64};
      return Fill(kind, rng.Pick(kT), rng.Hex(rng.Pick(kLengths)));
    }
    case HardNegativeKind::kUuid: {
      static constexpr std::string_view kT[] = {"request_id={}", "Session {} expired.", "trace {} span 3",
                                                "Object {} was deleted."};
      const std::string h = rng.Hex(32);
      static constexpr char kVariant[] = "89ab";
      return Fill(
          kind, rng.Pick(kT),
          absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-4", h.substr(13, 3), "-",
                       std::string(1, kVariant[rng.Below(4)]), h.substr(17, 3), "-", h.substr(20, 12)));
    }
    case HardNegativeKind::kQuantity:
    default: {
      switch (rng.Below(4)) {
        case 0:
          return Fill(kind, "Total: {} USD",
                      absl::StrFormat("%d,%03d.%02d", rng.Between(1, 99), rng.Below(1000), rng.Below(100)));
        case 1:
          return Fill(kind, "Distance {} km, elevation gain 412 m.",
                      absl::StrFormat("%d.%d", rng.Between(1, 999), rng.Below(10)));
        case 2:
          return Fill(kind, "Room {}, floor 3.", absl::StrCat(rng.Between(100, 999)));
        default:
          return Fill(kind, "Processed {} rows in 12 batches.",
                      absl::StrFormat("%d,%03d,%03d", rng.Between(1, 999), rng.Below(1000), rng.Below(1000)));
      }
    }
  }
}

}  // namespace

std::string_view HardNegativeKindName(HardNegativeKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

std::vector<HardNegative> GenerateHardNegatives(size_t n, uint64_t seed) {
  SplitMix rng(seed);
  std::vector<HardNegative> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto kind = static_cast<HardNegativeKind>(i % kHardNegativeKindCount);
    // A run of digits that passes Luhn (a 13-digit millisecond timestamp, the 14 digits of a British BBAN)
    // could rightly be reported as a card number: draw again.
    HardNegative h = Generate(kind, rng);
    while (internal::HasLuhnValidDigitRun(h.text)) h = Generate(kind, rng);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace veil::pii
