// Throughput of the dictionary recognizers (person names, street addresses, locations; src/veil/pii/names.h)
// on one core, against their own tokenizer pass as the baseline (the floor any dictionary scan pays), and
// against the 30 MB/s the issue-5 plan gives them so that the whole analyzer reaches 10 MB/s. Also prints the
// cost of the first call in a fresh process (the start-up cost a CLI run pays).
//
//   build/<dir>/bench/pii_names_bench [MEGABYTES]   (default 32)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "veil/pii/dictionary_lexicon.h"
#include "veil/pii/dictionary_text.h"
#include "veil/pii/names.h"

namespace veil::bench {
namespace {

// Sentences in the style of support tickets and letters, with a name, an address or a place in most of them.
// The names and places are a handful typed for this benchmark (not taken from any generator's list).
std::string MakeText(size_t bytes, DataRandom& rng) {
  static const char* kFirst[] = {"Maria", "John", "Ilona", "Jürgen", "Aiko", "Pekka", "Sofia", "Omar"};
  static const char* kLast[] = {"Kovács", "Smith", "Virtanen", "Schneider", "Tanaka", "Rossi", "Haddad"};
  static const char* kStreet[] = {"Main Street", "Hauptstraße", "Koskikatu", "Rue de la Paix", "Oak Avenue"};
  static const char* kCity[] = {"Helsinki", "Berlin", "Paris", "Springfield", "Budapest", "Osaka"};
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    auto pick = [&rng](const auto& a) { return a[rng.Next() % (sizeof(a) / sizeof(a[0]))]; };
    switch (rng.Next() % 5) {
      case 0:
        absl::StrAppend(&out, "Dear ", pick(kFirst), " ", pick(kLast), ", thank you for your order #",
                        rng.Next() % 100000, ". ");
        break;
      case 1:
        absl::StrAppend(&out, "Please send the parcel to ", rng.Next() % 900 + 1, " ", pick(kStreet),
                        ", Apt. ", rng.Next() % 90 + 1, "\n", pick(kCity), ", ", rng.Next() % 90000 + 10000,
                        " before Friday. ");
        break;
      case 2:
        absl::StrAppend(&out, "I moved from ", pick(kCity), " to ", pick(kCity),
                        " last year and the weather is much better here. ");
        break;
      case 3:
        absl::StrAppend(&out, "The quarterly report shows revenue grew by ", rng.Next() % 40,
                        " percent while costs stayed flat, and the board approved the plan.\n");
        break;
      default:
        absl::StrAppend(&out, "Mr. ", pick(kLast), " called about invoice ", rng.Next() % 1000000,
                        "; call him back at the office. ");
    }
  }
  return out;
}

int Main(int argc, char** argv) {
  const double megabytes = argc > 1 ? std::atof(argv[1]) : 32;
  PrintMachine();
  // First use in a fresh process: the lexicon image is compiled in and read in place, so this is the cost a
  // CLI run on a small file pays (page faults on the touched parts of the image included).
  auto recognizers = pii::NewDictionaryRecognizers();
  auto t0 = Clock::now();
  std::vector<pii::Span> first;
  for (const auto& r : recognizers)
    r->Find("Dear Maria Smith, send it to 12 Main Street, Springfield.", first);
  const double first_s = SecondsSince(t0);
  std::printf("first Find in this process: %.2f ms (lexicon: %zu entries, nothing built at run time)\n",
              first_s * 1e3, pii::internal::Lexicon::Get().size());

  DataRandom rng(42);
  const std::string text = MakeText(static_cast<size_t>(megabytes * 1e6), rng);
  const double mb = text.size() / 1e6;
  std::vector<double> tok_runs, find_runs;
  size_t spans = 0, tokens = 0;
  for (int run = 0; run < 5; ++run) {
    std::vector<pii::internal::Token> toks;
    auto t = Clock::now();
    pii::internal::Tokenize(text, toks);
    tok_runs.push_back(mb / SecondsSince(t));
    tokens = toks.size();
    std::vector<pii::Span> out;
    t = Clock::now();
    for (const auto& r : recognizers) r->Find(text, out);
    find_runs.push_back(mb / SecondsSince(t));
    spans = out.size();
  }
  const double tok = Median(tok_runs), find = Median(find_runs);
  std::printf("text: %.1f MB, %zu tokens, %zu spans found\n", mb, tokens, spans);
  std::printf("baseline tokenizer alone: %.1f MB/s (runs: %s)\n", tok, Join(tok_runs, 1).c_str());
  std::printf("dictionary recognizers:   %.1f MB/s (runs: %s)\n", find, Join(find_runs, 1).c_str());
  std::printf("ratio to tokenizer: %.2f; ratio to the 30 MB/s target: %.2f\n", find / tok, find / 30.0);
  return 0;
}

}  // namespace
}  // namespace veil::bench

int main(int argc, char** argv) { return veil::bench::Main(argc, argv); }
