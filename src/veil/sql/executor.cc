#include "veil/sql/executor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/aggregation.h"
#include "veil/table/column.h"
#include "veil/table/schema.h"
#include "veil/table/types.h"

namespace veil::sql {
namespace {

using internal::BoundExpr;
using internal::BoundOp;
using table::DataType;

// The value of a bound expression for every row of a table, or one value for all rows (`constant`).
// Exactly one storage span is used, by type: i64 (int64, timestamp), f64 (double), u8 (bool, 0/1), i32
// (date), strings (a string column: codes into its dictionary) or text (a string constant). Validity: for a
// constant `null`; otherwise `valid` holds one byte per row (1 = not NULL), or is empty when no row is NULL.
// Spans point into the table's columns or into the own_* buffers (which moves keep in place).
struct Vec {
  DataType type = DataType::kInt64;
  bool constant = false;
  bool null = false;
  std::span<const int64_t> i64;
  std::span<const double> f64;
  std::span<const uint8_t> u8;
  std::span<const int32_t> i32;
  const table::Column* strings = nullptr;
  std::string text;
  std::span<const uint8_t> valid;

  std::vector<int64_t> own_i64;
  std::vector<double> own_f64;
  std::vector<uint8_t> own_u8;
  std::vector<int32_t> own_i32;
  std::vector<uint8_t> own_valid;

  Vec() = default;
  Vec(Vec&&) = default;
  Vec& operator=(Vec&&) = default;
  Vec(const Vec&) = delete;
  Vec& operator=(const Vec&) = delete;

  // Index mask: element i of a vector, element 0 of a constant.
  size_t mask() const { return constant ? 0 : ~size_t{0}; }
  bool ValidAt(size_t i) const { return constant ? !null : (valid.empty() || valid[i] != 0); }
  bool HasNulls() const { return constant ? null : !valid.empty(); }
};

void SetValid(Vec& v, std::vector<uint8_t> valid) {
  v.own_valid = std::move(valid);
  v.valid = v.own_valid;
}

// `out` takes over `child`'s validity.
void InheritValidity(Vec& child, Vec& out) {
  out.null = child.null;
  if (!child.valid.empty()) {
    if (child.own_valid.empty()) {
      SetValid(out, std::vector<uint8_t>(child.valid.begin(), child.valid.end()));
    } else {
      SetValid(out, std::move(child.own_valid));
    }
  }
}

// Validity of a row-wise combination of `a` and `b` over m rows.
void CombineValidity(const Vec& a, const Vec& b, size_t m, bool constant, Vec& out) {
  if (constant) {
    out.null = a.null || b.null;
    return;
  }
  if (!a.HasNulls() && !b.HasNulls()) return;
  std::vector<uint8_t> valid(m);
  const size_t ma = a.mask(), mb = b.mask();
  for (size_t i = 0; i < m; ++i) valid[i] = a.ValidAt(i & ma) && b.ValidAt(i & mb);
  SetValid(out, std::move(valid));
}

// Marks row i of `out` NULL, materialising its validity first if needed.
void SetNull(Vec& out, size_t m, size_t i) {
  if (out.constant) {
    out.null = true;
    return;
  }
  if (out.own_valid.empty()) SetValid(out, std::vector<uint8_t>(m, 1));
  out.own_valid[i] = 0;
}

Vec ConstantVec(const table::Value& v, DataType type) {
  Vec out;
  out.type = type;
  out.constant = true;
  switch (v.index()) {
    case 0:
      out.null = true;
      break;
    case 1:
      out.own_i64 = {std::get<int64_t>(v)};
      break;
    case 2:
      out.own_f64 = {std::get<double>(v)};
      break;
    case 3:
      out.own_u8 = {static_cast<uint8_t>(std::get<bool>(v))};
      break;
    case 4:
      out.text = std::get<std::string>(v);
      break;
    case 5:
      out.own_i32 = {std::get<table::Date>(v).days};
      break;
    case 6:
      out.own_i64 = {std::get<table::Timestamp>(v).micros};
      break;
  }
  // A NULL constant still needs one slot of its type, so that loops can read element 0.
  if (out.null) {
    out.own_i64 = {0};
    out.own_f64 = {0};
    out.own_u8 = {0};
    out.own_i32 = {0};
  }
  out.i64 = out.own_i64;
  out.f64 = out.own_f64;
  out.u8 = out.own_u8;
  out.i32 = out.own_i32;
  return out;
}

Vec ColumnVec(const table::Column& c) {
  Vec out;
  out.type = c.type();
  switch (c.type()) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      out.i64 = c.int64_values();
      break;
    case DataType::kDouble:
      out.f64 = c.double_values();
      break;
    case DataType::kBool:
      out.u8 = c.bool_values();
      break;
    case DataType::kDate:
      out.i32 = c.date_values();
      break;
    case DataType::kString:
      out.strings = &c;
      break;
  }
  if (c.null_count() > 0) {
    const int64_t n = c.size();
    std::vector<uint8_t> valid(static_cast<size_t>(n));
    const table::ValidityBitmap& bitmap = c.validity();
    for (int64_t i = 0; i < n; ++i) valid[i] = bitmap.IsValid(i);
    SetValid(out, std::move(valid));
  }
  return out;
}

template <typename T>
bool ApplyCompare(BinaryOp op, const T& a, const T& b) {
  switch (op) {
    case BinaryOp::kEqual:
      return a == b;
    case BinaryOp::kNotEqual:
      return a != b;
    case BinaryOp::kLess:
      return a < b;
    case BinaryOp::kLessEqual:
      return a <= b;
    case BinaryOp::kGreater:
      return a > b;
    case BinaryOp::kGreaterEqual:
      return a >= b;
    default:
      return false;
  }
}

// out[i] = a[i] op b[i] over m rows, with one loop per operator so that the compiler can vectorise it.
template <typename T>
void CompareLoop(std::span<const T> a, size_t ma, std::span<const T> b, size_t mb, BinaryOp op, size_t m,
                 uint8_t* out) {
  auto run = [&](auto cmp) {
    for (size_t i = 0; i < m; ++i) out[i] = cmp(a[i & ma], b[i & mb]);
  };
  switch (op) {
    case BinaryOp::kEqual:
      run(std::equal_to<T>());
      break;
    case BinaryOp::kNotEqual:
      run(std::not_equal_to<T>());
      break;
    case BinaryOp::kLess:
      run(std::less<T>());
      break;
    case BinaryOp::kLessEqual:
      run(std::less_equal<T>());
      break;
    case BinaryOp::kGreater:
      run(std::greater<T>());
      break;
    case BinaryOp::kGreaterEqual:
      run(std::greater_equal<T>());
      break;
    default:
      break;
  }
}

BinaryOp Mirror(BinaryOp op) {
  switch (op) {
    case BinaryOp::kLess:
      return BinaryOp::kGreater;
    case BinaryOp::kLessEqual:
      return BinaryOp::kGreaterEqual;
    case BinaryOp::kGreater:
      return BinaryOp::kLess;
    case BinaryOp::kGreaterEqual:
      return BinaryOp::kLessEqual;
    default:
      return op;
  }
}

// Maps a per-dictionary-entry table over a string column's codes (code -1, a NULL row, gives 0).
void MapCodes(const table::Column& c, const std::vector<uint8_t>& lut, size_t m, uint8_t* out) {
  const std::span<const int32_t> codes = c.string_codes();
  for (size_t i = 0; i < m; ++i) {
    const int32_t code = codes[i];
    out[i] = code >= 0 ? lut[static_cast<size_t>(code)] : 0;
  }
}

// f(string) for every entry of a string column's dictionary.
template <typename F>
std::vector<uint8_t> DictionaryTable(const table::Column& c, F f) {
  const table::StringDictionary& dict = c.dictionary();
  std::vector<uint8_t> lut(static_cast<size_t>(dict.size()));
  for (int32_t code = 0; code < dict.size(); ++code) lut[code] = f(dict.value(code));
  return lut;
}

// A string value of row i of a string Vec.
std::string_view StringAt(const Vec& v, size_t i) {
  return v.strings != nullptr ? v.strings->GetString(static_cast<int64_t>(i)) : std::string_view(v.text);
}

// --- LIKE: '%' any sequence, '_' one code point, '\' makes the next character literal.

struct LikeToken {
  enum Kind : uint8_t { kLiteral, kOne, kAny } kind;
  char32_t cp = 0;
};

// Decodes valid UTF-8 (guaranteed by the table and the lexer) into code points.
std::u32string Decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    const size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? b : (b & (0x7F >> n));
    for (size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::vector<LikeToken> CompileLike(std::string_view pattern) {
  const std::u32string p = Decode(pattern);
  std::vector<LikeToken> tokens;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == U'\\' && i + 1 < p.size()) {
      tokens.push_back({LikeToken::kLiteral, p[++i]});
    } else if (p[i] == U'%') {
      if (tokens.empty() || tokens.back().kind != LikeToken::kAny) tokens.push_back({LikeToken::kAny, 0});
    } else if (p[i] == U'_') {
      tokens.push_back({LikeToken::kOne, 0});
    } else {
      tokens.push_back({LikeToken::kLiteral, p[i]});
    }
  }
  return tokens;
}

// Wildcard matching with backtracking to the last '%' only: O(|s| * |pattern|) at worst.
bool LikeMatch(std::string_view text, const std::vector<LikeToken>& p) {
  const std::u32string s = Decode(text);
  size_t si = 0, pi = 0, star = std::string::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi].kind == LikeToken::kAny) {
      star = pi++;
      star_s = si;
    } else if (pi < p.size() && (p[pi].kind == LikeToken::kOne || p[pi].cp == s[si])) {
      ++pi;
      ++si;
    } else if (star != std::string::npos) {
      pi = star + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi].kind == LikeToken::kAny) ++pi;
  return pi == p.size();
}

class Evaluator {
 public:
  explicit Evaluator(const table::Table& table) : table_(table), n_(static_cast<size_t>(table.num_rows())) {}

  Vec Eval(const BoundExpr& e) {
    switch (e.op) {
      case BoundOp::kConstant:
        return ConstantVec(e.constant, e.type);
      case BoundOp::kColumn:
        return ColumnVec(table_.column(e.column));
      case BoundOp::kAnd:
      case BoundOp::kOr:
        return Logic(e);
      default:
        break;
    }
    // Children needing more intermediate vectors first (Sethi and Ullman's order), so that a deep expression
    // holds O(log size) whole-column results at a time rather than one per level.
    std::vector<size_t> order(e.children.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return Need(*e.children[x]) > Need(*e.children[y]); });
    std::vector<Vec> args(e.children.size());
    bool constant = true;
    for (const size_t i : order) {
      args[i] = Eval(*e.children[i]);
      constant = constant && args[i].constant;
    }
    const size_t m = constant ? 1 : n_;
    Vec out;
    out.type = e.type;
    out.constant = constant;
    switch (e.op) {
      case BoundOp::kToDouble:
        ToDouble(args[0], m, out);
        break;
      case BoundOp::kNegate:
        Negate(args[0], m, out);
        break;
      case BoundOp::kArithmetic:
        Arithmetic(e.binary_op, args[0], args[1], m, out);
        break;
      case BoundOp::kCompare:
        Compare(e.binary_op, args[0], args[1], m, out);
        break;
      case BoundOp::kNot:
        Not(args[0], m, out);
        break;
      case BoundOp::kIsNull:
        IsNull(e.negated, args[0], m, out);
        break;
      case BoundOp::kInSet:
        InSet(e, args[0], m, out);
        break;
      case BoundOp::kLike:
        Like(e, args[0], m, out);
        break;
      case BoundOp::kRangeBucket:
        RangeBucket(e, args[0], m, out);
        break;
      case BoundOp::kConstant:
      case BoundOp::kColumn:
      case BoundOp::kAnd:
      case BoundOp::kOr:
        break;
    }
    return out;
  }

 private:
  // The number of whole-column results evaluating `e` holds at once (Sethi-Ullman number; AND and OR fold
  // their arguments one at a time, so they need what their neediest argument needs, plus the accumulator).
  static int Need(const BoundExpr& e) {
    if (e.children.empty()) return 1;
    std::vector<int> needs;
    for (const auto& c : e.children) needs.push_back(Need(*c));
    if (e.op == BoundOp::kAnd || e.op == BoundOp::kOr)
      return *std::max_element(needs.begin(), needs.end()) + 1;
    std::sort(needs.begin(), needs.end(), std::greater<int>());
    int need = 0;
    for (size_t k = 0; k < needs.size(); ++k) need = std::max(need, needs[k] + static_cast<int>(k));
    return need;
  }

  // Three-valued AND / OR, folding the arguments into an accumulator one at a time (a long AND of many
  // conditions never holds more than two of their results).
  Vec Logic(const BoundExpr& e) {
    const bool is_and = e.op == BoundOp::kAnd;
    std::vector<uint8_t> value, valid;
    bool constant = true;
    for (size_t k = 0; k < e.children.size(); ++k) {
      const Vec b = Eval(*e.children[k]);
      if (constant && !b.constant && k > 0) {  // the accumulator becomes a vector
        const uint8_t v0 = value[0], ok0 = valid[0];
        value.assign(n_, v0);
        valid.assign(n_, ok0);
      }
      constant = constant && b.constant;
      const size_t m = constant ? 1 : n_;
      const size_t mb = b.mask();
      if (k == 0) {
        value.resize(m);
        valid.resize(m);
        for (size_t i = 0; i < m; ++i) {
          value[i] = b.u8[i & mb];
          valid[i] = b.ValidAt(i & mb);
        }
        continue;
      }
      for (size_t i = 0; i < m; ++i) {
        const bool va = valid[i], x = value[i], vb = b.ValidAt(i & mb), y = b.u8[i & mb];
        bool known_true, known_false;
        if (is_and) {
          known_false = (va && !x) || (vb && !y);
          known_true = va && x && vb && y;
        } else {
          known_true = (va && x) || (vb && y);
          known_false = va && !x && vb && !y;
        }
        value[i] = known_true;
        valid[i] = known_true || known_false;
      }
    }
    Vec out;
    out.type = DataType::kBool;
    out.constant = constant;
    out.own_u8 = std::move(value);
    out.u8 = out.own_u8;
    if (constant) {
      out.null = !valid[0];
    } else if (std::find(valid.begin(), valid.end(), 0) != valid.end()) {
      SetValid(out, std::move(valid));
    }
    return out;
  }

  static void ToDouble(Vec& a, size_t m, Vec& out) {
    out.own_f64.resize(m);
    const size_t ma = a.mask();
    for (size_t i = 0; i < m; ++i) out.own_f64[i] = static_cast<double>(a.i64[i & ma]);
    out.f64 = out.own_f64;
    InheritValidity(a, out);
  }

  static void Negate(Vec& a, size_t m, Vec& out) {
    InheritValidity(a, out);
    const size_t ma = a.mask();
    if (a.type == DataType::kDouble) {
      out.own_f64.resize(m);
      for (size_t i = 0; i < m; ++i) out.own_f64[i] = -a.f64[i & ma];
      out.f64 = out.own_f64;
      return;
    }
    out.own_i64.resize(m);
    for (size_t i = 0; i < m; ++i) {
      const int64_t v = a.i64[i & ma];
      if (v == std::numeric_limits<int64_t>::min()) {
        out.own_i64[i] = 0;
        SetNull(out, m, i);  // overflow gives NULL (planner.h)
      } else {
        out.own_i64[i] = -v;
      }
    }
    out.i64 = out.own_i64;
  }

  static void Arithmetic(BinaryOp op, const Vec& a, const Vec& b, size_t m, Vec& out) {
    CombineValidity(a, b, m, out.constant, out);
    const size_t ma = a.mask(), mb = b.mask();
    if (out.type == DataType::kDouble) {
      out.own_f64.resize(m);
      double* r = out.own_f64.data();
      switch (op) {
        case BinaryOp::kAdd:
          for (size_t i = 0; i < m; ++i) r[i] = a.f64[i & ma] + b.f64[i & mb];
          break;
        case BinaryOp::kSubtract:
          for (size_t i = 0; i < m; ++i) r[i] = a.f64[i & ma] - b.f64[i & mb];
          break;
        case BinaryOp::kMultiply:
          for (size_t i = 0; i < m; ++i) r[i] = a.f64[i & ma] * b.f64[i & mb];
          break;
        case BinaryOp::kDivide:
          for (size_t i = 0; i < m; ++i) {
            const double d = b.f64[i & mb];
            if (d == 0) {
              r[i] = 0;
              SetNull(out, m, i);  // division by zero gives NULL (planner.h)
            } else {
              r[i] = a.f64[i & ma] / d;
            }
          }
          break;
        default:
          break;
      }
      out.f64 = out.own_f64;
      return;
    }
    out.own_i64.resize(m);
    int64_t* r = out.own_i64.data();
    for (size_t i = 0; i < m; ++i) {
      const int64_t x = a.i64[i & ma], y = b.i64[i & mb];
      bool overflow = false;
      switch (op) {
        case BinaryOp::kAdd:
          overflow = __builtin_add_overflow(x, y, &r[i]);
          break;
        case BinaryOp::kSubtract:
          overflow = __builtin_sub_overflow(x, y, &r[i]);
          break;
        case BinaryOp::kMultiply:
          overflow = __builtin_mul_overflow(x, y, &r[i]);
          break;
        default:
          r[i] = 0;
          break;
      }
      if (overflow) {
        r[i] = 0;
        SetNull(out, m, i);  // overflow gives NULL (planner.h)
      }
    }
    out.i64 = out.own_i64;
  }

  static void Compare(BinaryOp op, const Vec& a, const Vec& b, size_t m, Vec& out) {
    CombineValidity(a, b, m, out.constant, out);
    out.own_u8.resize(m);
    uint8_t* r = out.own_u8.data();
    const size_t ma = a.mask(), mb = b.mask();
    switch (a.type) {
      case DataType::kInt64:
      case DataType::kTimestamp:
        CompareLoop<int64_t>(a.i64, ma, b.i64, mb, op, m, r);
        break;
      case DataType::kDouble:
        CompareLoop<double>(a.f64, ma, b.f64, mb, op, m, r);
        break;
      case DataType::kBool:
        CompareLoop<uint8_t>(a.u8, ma, b.u8, mb, op, m, r);
        break;
      case DataType::kDate:
        CompareLoop<int32_t>(a.i32, ma, b.i32, mb, op, m, r);
        break;
      case DataType::kString:
        if (a.strings != nullptr && b.strings == nullptr) {
          const std::string_view c = b.text;
          MapCodes(*a.strings,
                   DictionaryTable(*a.strings, [&](std::string_view s) { return ApplyCompare(op, s, c); }), m,
                   r);
        } else if (a.strings == nullptr && b.strings != nullptr) {
          const std::string_view c = a.text;
          const BinaryOp mirrored = Mirror(op);
          MapCodes(
              *b.strings,
              DictionaryTable(*b.strings, [&](std::string_view s) { return ApplyCompare(mirrored, s, c); }),
              m, r);
        } else {
          for (size_t i = 0; i < m; ++i) r[i] = ApplyCompare(op, StringAt(a, i & ma), StringAt(b, i & mb));
        }
        break;
    }
    out.u8 = out.own_u8;
  }

  static void Not(Vec& a, size_t m, Vec& out) {
    out.own_u8.resize(m);
    const size_t ma = a.mask();
    for (size_t i = 0; i < m; ++i) out.own_u8[i] = !a.u8[i & ma];
    out.u8 = out.own_u8;
    InheritValidity(a, out);
  }

  static void IsNull(bool negated, const Vec& a, size_t m, Vec& out) {
    out.own_u8.resize(m);
    const size_t ma = a.mask();
    for (size_t i = 0; i < m; ++i) out.own_u8[i] = a.ValidAt(i & ma) == negated;
    out.u8 = out.own_u8;
  }

  template <typename T, typename Key>
  static void InSetLoop(std::span<const T> values, size_t ma, const absl::flat_hash_set<Key>& set, size_t m,
                        uint8_t* member) {
    for (size_t i = 0; i < m; ++i) {
      Key k = static_cast<Key>(values[i & ma]);
      if constexpr (std::is_floating_point_v<Key>) k += 0.0;  // -0.0 is 0.0
      member[i] = set.contains(k);
    }
  }

  static void InSet(const BoundExpr& e, Vec& a, size_t m, Vec& out) {
    std::vector<uint8_t> member(m);
    const size_t ma = a.mask();
    switch (a.type) {
      case DataType::kInt64:
      case DataType::kTimestamp: {
        absl::flat_hash_set<int64_t> set;
        for (const table::Value& v : e.set) {
          set.insert(a.type == DataType::kInt64 ? std::get<int64_t>(v)
                                                : std::get<table::Timestamp>(v).micros);
        }
        InSetLoop<int64_t, int64_t>(a.i64, ma, set, m, member.data());
        break;
      }
      case DataType::kDouble: {
        absl::flat_hash_set<double> set;
        for (const table::Value& v : e.set) set.insert(std::get<double>(v));
        InSetLoop<double, double>(a.f64, ma, set, m, member.data());
        break;
      }
      case DataType::kBool: {
        absl::flat_hash_set<uint8_t> set;
        for (const table::Value& v : e.set) set.insert(std::get<bool>(v));
        InSetLoop<uint8_t, uint8_t>(a.u8, ma, set, m, member.data());
        break;
      }
      case DataType::kDate: {
        absl::flat_hash_set<int32_t> set;
        for (const table::Value& v : e.set) set.insert(std::get<table::Date>(v).days);
        InSetLoop<int32_t, int32_t>(a.i32, ma, set, m, member.data());
        break;
      }
      case DataType::kString: {
        absl::flat_hash_set<std::string_view> set;
        for (const table::Value& v : e.set) set.insert(std::get<std::string>(v));
        if (a.strings != nullptr) {
          MapCodes(*a.strings,
                   DictionaryTable(*a.strings, [&](std::string_view s) { return set.contains(s); }), m,
                   member.data());
        } else {
          member[0] = set.contains(a.text);
        }
        break;
      }
    }
    // x IN (..., NULL): TRUE if found, else NULL. NOT IN: FALSE if found, else NULL.
    InheritValidity(a, out);
    out.own_u8.resize(m);
    for (size_t i = 0; i < m; ++i) {
      out.own_u8[i] = member[i] != e.negated;
      if (e.set_has_null && !member[i]) SetNull(out, m, i);
    }
    out.u8 = out.own_u8;
  }

  static void Like(const BoundExpr& e, Vec& a, size_t m, Vec& out) {
    const std::vector<LikeToken> pattern = CompileLike(e.pattern);
    out.own_u8.resize(m);
    auto match = [&](std::string_view s) -> uint8_t { return LikeMatch(s, pattern) != e.negated; };
    if (a.strings != nullptr) {
      MapCodes(*a.strings, DictionaryTable(*a.strings, match), m, out.own_u8.data());
    } else {
      out.own_u8[0] = match(a.text);
    }
    out.u8 = out.own_u8;
    InheritValidity(a, out);
  }

  static void RangeBucket(const BoundExpr& e, Vec& a, size_t m, Vec& out) {
    InheritValidity(a, out);
    out.own_i64.resize(m);
    const std::vector<double>& b = e.boundaries;
    const size_t ma = a.mask();
    for (size_t i = 0; i < m; ++i) {
      const double x = a.type == DataType::kDouble ? a.f64[i & ma] : static_cast<double>(a.i64[i & ma]);
      if (std::isnan(x)) {
        out.own_i64[i] = 0;
        SetNull(out, m, i);  // as BigQuery: NaN has no bucket
        continue;
      }
      out.own_i64[i] = std::upper_bound(b.begin(), b.end(), x) - b.begin();
    }
    out.i64 = out.own_i64;
  }

  const table::Table& table_;
  size_t n_;
};

absl::Status CheckSchema(const PreparedQuery& query, const table::Table& table) {
  if (table.schema() == query.schema()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the table's schema (", table.schema().ToString(),
                                                 ") is not the schema the query was prepared for (",
                                                 query.schema().ToString(), ")"));
}

std::vector<int64_t> Selected(const Vec& v, int64_t n) {
  std::vector<int64_t> rows;
  if (v.constant) {
    if (!v.null && v.u8[0]) {
      rows.resize(static_cast<size_t>(n));
      std::iota(rows.begin(), rows.end(), int64_t{0});
    }
    return rows;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (v.u8[i] && (v.valid.empty() || v.valid[i])) rows.push_back(i);
  }
  return rows;
}

// A derived column as a table column of n rows (a constant is repeated); NULL rows hold 0.
absl::StatusOr<table::Column> ToColumn(Vec v, DataType type, int64_t n) {
  const size_t count = static_cast<size_t>(n);
  table::ValidityBitmap validity;
  if (v.HasNulls()) {
    validity.Reserve(n);
    for (size_t i = 0; i < count; ++i) validity.Append(v.ValidAt(i & v.mask()));
  }
  auto gather = [&](auto span) {
    using T = typename decltype(span)::value_type;
    std::vector<T> out(count);
    for (size_t i = 0; i < count; ++i) out[i] = v.ValidAt(i & v.mask()) ? span[i & v.mask()] : T{};
    return out;
  };
  switch (type) {
    case DataType::kInt64:
      return table::Column::FromInt64s(gather(v.i64), std::move(validity));
    case DataType::kTimestamp:
      return table::Column::FromTimestamps(gather(v.i64), std::move(validity));
    case DataType::kDouble:
      return table::Column::FromDoubles(gather(v.f64), std::move(validity));
    case DataType::kBool:
      return table::Column::FromBools(gather(v.u8), std::move(validity));
    case DataType::kDate:
      return table::Column::FromDates(gather(v.i32), std::move(validity));
    case DataType::kString:
      break;
  }
  return absl::InternalError("a derived column cannot be a string");
}

// The table the engine reads: `table` itself, or, when the plan needs derived columns, the columns the plan
// names plus the derived ones.
absl::StatusOr<const table::Table*> EngineTable(const PreparedQuery& query, const table::Table& table,
                                                table::Table* storage) {
  if (query.derived_columns().empty()) return &table;
  std::vector<std::string> needed = {query.plan().privacy_unit_column};
  for (const dp::GroupBy& g : query.plan().group_by) needed.push_back(g.column);
  for (const dp::Aggregate& a : query.plan().aggregates) {
    if (!a.column.empty()) needed.push_back(a.column);
  }
  std::vector<table::Field> fields;
  std::vector<table::Column> columns;
  for (const std::string& name : needed) {
    const std::optional<int> i = table.schema().FindField(name);
    if (!i) continue;  // derived, added below
    if (std::any_of(fields.begin(), fields.end(), [&](const table::Field& f) { return f.name == name; }))
      continue;
    fields.push_back(table.schema().field(*i));
    columns.push_back(table.column(*i));
  }
  Evaluator evaluator(table);
  for (const internal::DerivedColumn& d : query.derived_columns()) {
    VEIL_ASSIGN_OR_RETURN(table::Column c, ToColumn(evaluator.Eval(*d.expr), d.type, table.num_rows()));
    fields.push_back(table::Field{d.name, d.type, /*nullable=*/true});
    columns.push_back(std::move(c));
  }
  VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
  VEIL_ASSIGN_OR_RETURN(*storage, table::Table::Make(std::move(schema), std::move(columns)));
  return storage;
}

// SQL order of two values of one column: NULL first; NaN with NULL.
int CompareValues(const table::Value& a, const table::Value& b) {
  auto is_null = [](const table::Value& v) {
    return std::holds_alternative<std::monostate>(v) ||
           (std::holds_alternative<double>(v) && std::isnan(std::get<double>(v)));
  };
  const bool na = is_null(a), nb = is_null(b);
  if (na || nb) return na == nb ? 0 : (na ? -1 : 1);
  auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (a.index() != b.index()) return three_way(a.index(), b.index());
  switch (a.index()) {
    case 1:
      return three_way(std::get<int64_t>(a), std::get<int64_t>(b));
    case 2:
      return three_way(std::get<double>(a), std::get<double>(b));
    case 3:
      return three_way(std::get<bool>(a), std::get<bool>(b));
    case 4:
      return three_way(std::get<std::string>(a), std::get<std::string>(b));
    case 5:
      return three_way(std::get<table::Date>(a).days, std::get<table::Date>(b).days);
    case 6:
      return three_way(std::get<table::Timestamp>(a).micros, std::get<table::Timestamp>(b).micros);
    default:
      return 0;
  }
}

table::Value DoubleOrNull(double v) {
  return std::isfinite(v) ? table::Value(v) : table::Value(std::monostate());
}

// One select item's first value in a result row, as the output shows it.
table::Value ItemValue(const OutputColumn& col, const dp::ResultRow& row) {
  if (col.kind == OutputColumn::Kind::kGroupKey) return row.key[col.index];
  const double v = row.values[col.index].empty() ? std::nan("") : row.values[col.index][0].value;
  if (col.type == DataType::kInt64) {
    if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) return std::monostate();
    return static_cast<int64_t>(std::llround(v));
  }
  return DoubleOrNull(v);
}

absl::StatusOr<QueryOutput> ToOutput(const PreparedQuery& query, dp::QueryResult result) {
  const std::vector<OutputColumn>& cols = query.columns();
  // ORDER BY (stable, on top of the engine's key order), then LIMIT.
  std::vector<size_t> order(result.rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (!query.order_by().empty()) {
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      for (const OrderKey& k : query.order_by()) {
        const int c = CompareValues(ItemValue(cols[k.output], result.rows[x]),
                                    ItemValue(cols[k.output], result.rows[y]));
        if (c != 0) return k.descending ? c > 0 : c < 0;
      }
      return false;
    });
  }
  if (query.limit() && static_cast<int64_t>(order.size()) > *query.limit()) {
    order.resize(static_cast<size_t>(*query.limit()));
  }

  std::vector<table::Field> fields;
  std::vector<table::ColumnBuilder> builders;
  for (const OutputColumn& col : cols) {
    const std::vector<std::string> names = ResultColumnNames(col);
    for (size_t k = 0; k < names.size(); ++k) {
      const DataType type = k == 0 ? col.type : DataType::kDouble;
      fields.push_back(table::Field{names[k], type, /*nullable=*/true});
      builders.emplace_back(type);
    }
  }
  for (const size_t r : order) {
    const dp::ResultRow& row = result.rows[r];
    size_t b = 0;
    for (const OutputColumn& col : cols) {
      if (col.kind == OutputColumn::Kind::kGroupKey) {
        VEIL_RETURN_IF_ERROR(builders[b++].Append(row.key[col.index]));
        continue;
      }
      const std::vector<dp::NoisyValue>& values = row.values[col.index];
      if (col.num_values > 1) {
        for (int q = 0; q < col.num_values; ++q) {
          VEIL_RETURN_IF_ERROR(builders[b++].Append(
              q < static_cast<int>(values.size()) ? DoubleOrNull(values[q].value) : std::monostate()));
        }
        continue;
      }
      VEIL_RETURN_IF_ERROR(builders[b++].Append(ItemValue(col, row)));
      const bool has = !values.empty();
      VEIL_RETURN_IF_ERROR(builders[b++].Append(has && values[0].ci_lo ? DoubleOrNull(*values[0].ci_lo)
                                                                       : table::Value(std::monostate())));
      VEIL_RETURN_IF_ERROR(builders[b++].Append(has && values[0].ci_hi ? DoubleOrNull(*values[0].ci_hi)
                                                                       : table::Value(std::monostate())));
    }
  }
  std::vector<table::Column> columns;
  for (table::ColumnBuilder& builder : builders) {
    VEIL_ASSIGN_OR_RETURN(table::Column c, builder.Finish());
    columns.push_back(std::move(c));
  }
  VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
  QueryOutput out;
  VEIL_ASSIGN_OR_RETURN(out.table, table::Table::Make(std::move(schema), std::move(columns)));
  out.cost = std::move(result.cost);
  out.chosen_bounds = std::move(result.chosen_bounds);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> SelectRows(const PreparedQuery& query, const table::Table& table) {
  VEIL_RETURN_IF_ERROR(CheckSchema(query, table));
  if (query.where() == nullptr) {
    std::vector<int64_t> all(static_cast<size_t>(table.num_rows()));
    std::iota(all.begin(), all.end(), int64_t{0});
    return all;
  }
  Evaluator evaluator(table);
  return Selected(evaluator.Eval(*query.where()), table.num_rows());
}

namespace {

// The path both executions share: the schema check, WHERE into a row selection, derived columns, then
// `run(engine input, selection)` (the DP engine or the exact one), and the output table.
template <typename Run>
absl::StatusOr<QueryOutput> RunPrepared(const PreparedQuery& query, const table::Table& table, Run run) {
  VEIL_RETURN_IF_ERROR(CheckSchema(query, table));
  std::optional<std::vector<int64_t>> rows;
  if (query.where() != nullptr) {
    VEIL_ASSIGN_OR_RETURN(rows, SelectRows(query, table));
  }
  table::Table storage;
  VEIL_ASSIGN_OR_RETURN(const table::Table* input, EngineTable(query, table, &storage));
  std::optional<std::span<const int64_t>> selection;
  if (rows) selection = std::span<const int64_t>(*rows);
  VEIL_ASSIGN_OR_RETURN(dp::QueryResult result, run(*input, selection));
  return ToOutput(query, std::move(result));
}

}  // namespace

absl::StatusOr<QueryOutput> ExecuteQuery(const PreparedQuery& query, const table::Table& table,
                                         dp::RandomBits& bits) {
  return RunPrepared(query, table,
                     [&](const table::Table& input, std::optional<std::span<const int64_t>> rows) {
                       return dp::RunQuery(input, rows, query.plan(), bits);
                     });
}

absl::StatusOr<QueryOutput> OutputFromResult(const PreparedQuery& query, dp::QueryResult result) {
  for (const dp::ResultRow& row : result.rows) {
    if (row.key.size() != query.plan().group_by.size() || row.values.size() != query.plan().aggregates.size())
      return absl::InternalError("a result row does not have the query's shape");
  }
  return ToOutput(query, std::move(result));
}

absl::StatusOr<QueryOutput> ExecutePlainQuery(const PreparedQuery& query, const table::Table& table) {
  return RunPrepared(query, table,
                     [&](const table::Table& input, std::optional<std::span<const int64_t>> rows) {
                       return dp::RunPlainAggregation(input, rows, query.plan());
                     });
}

nlohmann::ordered_json OutputToJson(const QueryOutput& output) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (const table::Field& f : output.table.schema().fields()) names.push_back(f.name);
  j["columns"] = std::move(names);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (int64_t r = 0; r < output.table.num_rows(); ++r) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (int c = 0; c < output.table.num_columns(); ++c) {
      const table::Value v = output.table.GetValue(r, c);
      switch (v.index()) {
        case 0:
          row.push_back(nullptr);
          break;
        case 1:
          row.push_back(std::get<int64_t>(v));
          break;
        case 2: {
          const double d = std::get<double>(v);
          row.push_back(std::isfinite(d) ? nlohmann::ordered_json(d) : nlohmann::ordered_json());
          break;
        }
        case 3:
          row.push_back(std::get<bool>(v));
          break;
        case 4:
          row.push_back(std::get<std::string>(v));
          break;
        default:
          row.push_back(table::FormatValue(v));
          break;
      }
    }
    rows.push_back(std::move(row));
  }
  j["rows"] = std::move(rows);
  j["cost"] = {{"epsilon", output.cost.privacy.total.epsilon}, {"delta", output.cost.privacy.total.delta}};
  nlohmann::ordered_json bounds = nlohmann::ordered_json::array();
  for (const dp::ChosenBounds& b : output.chosen_bounds) {
    bounds.push_back({{"name", b.name}, {"lo", b.bounds.lo}, {"hi", b.bounds.hi}});
  }
  j["chosen_bounds"] = std::move(bounds);
  return j;
}

}  // namespace veil::sql
