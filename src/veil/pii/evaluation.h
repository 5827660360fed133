// Evaluation of PII detection against labeled text, and a generated set of hard negatives.
//
// Dataset. The presidio-research JSON format (github.com/microsoft/presidio-research, data/
// synth_dataset_v2.json): one array of samples {"full_text", "spans": [{"entity_type", "entity_value",
// "start_position", "end_position"}], ...}. Offsets there are Python string offsets (Unicode code points, end
// exclusive); ParsePresidioDataset converts them to UTF-8 byte offsets, the unit of pii::Span.
//
// Mapping. Dataset types are mapped to Veil's (MapDatasetEntity): STREET_ADDRESS stays STREET_ADDRESS, GPE
// becomes LOCATION, DOMAIN_NAME becomes URL (its values are full URLs, and presidio-research maps it the same
// way); ORGANIZATION, TITLE and NRP have no Veil type and are out of scope (their gold spans are kept, marked
// out of scope, and never counted as false negatives). Predicted DOMAIN_NAME spans are scored as URL
// (ScoringType).
//
// Matching (the rule, span level): a prediction matches a gold span of the same scoring type when
// |intersection| >= iou_threshold * |union|, lengths counted in code points (as presidio-research's
// SpanEvaluator counts characters). Matching is one-to-one: pairs are taken greedily by decreasing overlap.
// A matched prediction is a true positive, an unmatched prediction a false positive of its type, an unmatched
// in-scope gold span a false negative of its type. "Overall" adds the per-type counts (micro average).
// "Any PII" repeats the matching ignoring the type (every in-scope gold span against every prediction), as
// presidio-research's global PII precision/recall treats all entity types as one.
//
// Token level (next to the span level, as presidio-research's Evaluator scores): the text is cut into tokens
// (internal::Tokenize); a token takes the type of the in-scope gold span it overlaps (by at least one
// character; if several, the one overlapping it most, then the earlier one), or O; likewise its predicted
// type from the predictions. Out-of-scope gold types are O, as presidio-research turns the entity types a
// model does not support into O. Per type t: TP = tokens gold t and predicted t, FP = predicted t and gold
// not t, FN = gold t and predicted not t. "PII" (type-agnostic): TP = gold non-O and predicted non-O, FP =
// predicted non-O and gold O, FN = gold non-O and predicted O; its F2 is the figure presidio-research reports
// as pii_f (beta 2 in the notebooks), Presidio's published 0.618 (vanilla) and 0.845 (tuned).
//
// Differences from presidio-research's published figures (docs/pii.md section 4): its notebooks 4 and 5
// (Evaluator) score tokens (each spaCy token of the text counted as PII or O, type-agnostic for the "PII"
// figure), and its SpanEvaluator matches on normalized text (lowercased, punctuation and skip words
// removed). Veil scores raw spans with IoU >= 0.9, which is stricter.
//
// Hard negatives: texts that look like personal data but are not (GenerateHardNegatives); any span found in
// them is a false positive.
//
// Thread safety: the functions are pure; an EvalReport is a plain value.
#ifndef VEIL_PII_EVALUATION_H_
#define VEIL_PII_EVALUATION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/pii/entity.h"

namespace veil::pii {

// One labeled span of a dataset, in UTF-8 byte offsets of its sample's text.
struct GoldSpan {
  size_t begin = 0;
  size_t end = 0;
  std::string dataset_type;        // as the dataset names it ("GPE")
  std::optional<EntityType> type;  // the Veil scoring type, or nullopt: out of scope
};

struct LabeledSample {
  std::string text;
  std::vector<GoldSpan> spans;  // sorted by begin
};

struct LabeledDataset {
  std::vector<LabeledSample> samples;
  // Gold spans by dataset type name, and those of them that are out of scope.
  std::map<std::string, int64_t> gold_by_dataset_type;
  std::map<std::string, int64_t> out_of_scope_by_dataset_type;
  uint64_t text_bytes = 0;  // sum of the texts' UTF-8 sizes
};

// The Veil type a dataset entity type is scored as, or nullopt if Veil has no such type (ORGANIZATION,
// TITLE, NRP, and any name it does not know). Identity for the names Veil shares (EMAIL_ADDRESS, ...);
// GPE -> LOCATION; DOMAIN_NAME -> URL.
std::optional<EntityType> MapDatasetEntity(std::string_view dataset_type);

// The type a prediction of `type` is scored as: DOMAIN_NAME -> URL, every other type itself.
EntityType ScoringType(EntityType type);

// Parses a presidio-research JSON dataset. Errors: InvalidArgument naming the sample and field, e.g.
// "samples[12].spans[1].end_position: 85 is beyond the text (80 code points)": not JSON (with the byte
// offset), not an array, a sample that is not an object, a missing or mistyped full_text or spans, a span
// with a missing or mistyped field, negative or reversed offsets, offsets beyond the text, an entity_value
// that differs from the text at those offsets, invalid UTF-8.
absl::StatusOr<LabeledDataset> ParsePresidioDataset(std::string_view json);

struct EvalOptions {
  // The minimum intersection over union (in code points) for a prediction to match a gold span. In (0, 1].
  double iou_threshold = 0.9;
  // Scoring types to evaluate; empty means all. Gold spans of other types are treated as out of scope and
  // predictions of other types are dropped.
  std::vector<EntityType> entities;
};

// True positives, false positives and false negatives, and the metrics derived from them.
struct Counts {
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t fn = 0;

  int64_t gold() const { return tp + fn; }
  int64_t predicted() const { return tp + fp; }
  // tp / (tp + fp); NaN when nothing was predicted.
  double Precision() const;
  // tp / (tp + fn); NaN when there is no gold span.
  double Recall() const;
  // (1 + b^2) P R / (b^2 P + R); 0 when P = R = 0; NaN when P or R is NaN. F1: beta 1; F2: beta 2.
  double F(double beta) const;

  Counts& operator+=(const Counts& o) {
    tp += o.tp;
    fp += o.fp;
    fn += o.fn;
    return *this;
  }
};

struct EvalReport {
  std::array<Counts, kEntityTypeCount> per_type{};  // indexed by the scoring type
  Counts overall;                                   // sum over types (micro)
  Counts any_pii;                                   // type-agnostic matching
  // Token level (see above): per scoring type, and type-agnostic PII.
  std::array<Counts, kEntityTypeCount> token_per_type{};
  Counts token_pii;
  int64_t tokens = 0;  // tokens scored
  // False positives that overlap an out-of-scope gold span (say PERSON found on an ORGANIZATION) at the IoU
  // threshold: counted as false positives above, reported separately for diagnosis.
  int64_t fp_on_out_of_scope = 0;
  int64_t samples = 0;
};

// Scores the predictions for one text against its gold spans and adds the counts to `report`. Predictions
// are clipped to the text. Errors: InvalidArgument if a span is outside the text or not on code point
// boundaries, or the text is not valid UTF-8.
absl::Status ScoreSample(std::string_view text, std::span<const GoldSpan> gold,
                         std::span<const Span> predicted, const EvalOptions& options, EvalReport& report);

// Hard negatives -------------------------------------------------------------------------------------------

enum class HardNegativeKind : uint8_t {
  kOrderNumber,       // "Order #483920175 has shipped."
  kUnixTimestamp,     // epoch seconds or milliseconds
  kVersion,           // "version 1.2.3.4", "v2.10.3"
  kLuhnFailing16,     // a 16-digit card-like number whose Luhn check fails
  kIbanFailingMod97,  // an IBAN-shaped string whose ISO 7064 mod-97 check fails
  kSsnInvalidArea,    // NNN-NN-NNNN with area 000, 666 or 900-999, and not a valid ITIN (group < 50)
  kInvoiceId,         // "INV-2024-004512"
  kInvalidPhone,      // +1 numbers whose area code starts with 0 or 1 (no NANP number does)
  kHexHash,           // git commit ids, SHA-256 digests
  kUuid,              // RFC 4122 UUIDs
  kQuantity,          // prices, measurements, counts
};
inline constexpr size_t kHardNegativeKindCount = static_cast<size_t>(HardNegativeKind::kQuantity) + 1;

// "order_number", "luhn_failing_16", ...
std::string_view HardNegativeKindName(HardNegativeKind kind);

struct HardNegative {
  HardNegativeKind kind;
  std::string text;
  std::string value;  // the part that looks like personal data (a substring of text)
};

inline constexpr uint64_t kDefaultHardNegativeSeed = 0x5645494C2D484E31ULL;  // "VEIL-HN1"

// `n` texts, the kinds in turn, generated deterministically from `seed` (splitmix64: test data, not a
// privacy path): the same (n, seed) always gives the same texts.
std::vector<HardNegative> GenerateHardNegatives(size_t n, uint64_t seed = kDefaultHardNegativeSeed);

namespace internal {

// byte_offset[i] is the byte offset of code point i in `text`, and byte_offset[n] == text.size() for a text
// of n code points. Errors: InvalidArgument (naming the byte offset) for invalid UTF-8 (overlong forms,
// surrogates, code points above U+10FFFF, truncated sequences).
absl::StatusOr<std::vector<size_t>> CodePointByteOffsets(std::string_view text);

// Whether [a_begin, a_end) and [b_begin, b_end) overlap by at least `threshold` of their union, compared
// exactly in integers (threshold taken to 6 decimal places).
bool IouAtLeast(size_t a_begin, size_t a_end, size_t b_begin, size_t b_end, double threshold);

// A token of internal::Tokenize: [begin, end) in UTF-8 bytes.
struct Token {
  size_t begin;
  size_t end;
  friend bool operator==(const Token&, const Token&) = default;
};

// A deterministic approximation of spaCy's English tokenizer for presidio-research's texts (spaCy itself is
// not used). Rules, on code points:
//   - whitespace separates tokens and is never a token (ASCII whitespace, U+00A0, U+1680, U+2000-U+200A,
//     U+2028, U+2029, U+202F, U+205F, U+3000); spaCy makes tokens of "\n" and of runs of spaces, which the
//     evaluation would tag too: a small difference;
//   - word characters are ASCII letters and digits and every non-ASCII code point except the Latin-1
//     punctuation and symbols U+00A1-U+00BF, U+00D7, U+00F7 and the general punctuation block
//     U+2010-U+205E (dashes, curly quotes, ellipsis);
//   - a token is a run of word characters, continued across connectors . - @ / : _ ' + = ? & % # ~ (any
//     number of them in a row) when a word character follows, and across one ',' between two digits; so
//     e-mail addresses, URLs ("https://a.com/x"), dates (12/05/2020, 2020-05-12), times (10:30), phone
//     numbers (555-0199), SSNs, decimals (3.5, 12,345) and hyphenated names stay one token, as spaCy's URL
//     and e-mail matching and its digit infix rules keep most of them (spaCy does split "Smith-Jones" into
//     three tokens, this does not);
//   - every other character (a connector not followed by a word character, brackets, quotes, '!', ';',
//     ',' after a letter, "." ending a sentence or an abbreviation like "St.", '$', '*', ...) is a token of
//     its own: "(555)" -> "(" "555" ")", "Smith," -> "Smith" ",", "St." -> "St" "." (spaCy keeps some
//     abbreviations whole: its exceptions list is not reproduced).
// Invalid UTF-8 bytes are taken one by one as word characters. Tokens are sorted, non-empty and disjoint.
std::vector<Token> Tokenize(std::string_view text);

// Whether `text` holds a run of 13 to 19 digits (groups joined by single spaces or hyphens count as one run)
// that passes Luhn (checksums.h): what a card recognizer could rightly report.
bool HasLuhnValidDigitRun(std::string_view text);

}  // namespace internal
}  // namespace veil::pii

#endif  // VEIL_PII_EVALUATION_H_
