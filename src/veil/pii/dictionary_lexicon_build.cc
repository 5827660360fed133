#include "veil/pii/dictionary_lexicon_build.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "veil/pii/dictionary_lexicon.h"
#include "veil/pii/dictionary_text.h"

namespace veil::pii::internal {
namespace {

// Closed classes of the grammar (our own compilation; see docs/pii.md section 2).
constexpr std::string_view kStreetPrefixes[] = {
    "rue",     "rua",    "via",      "viale",    "vicolo",   "corso",   "largo",   "piazza",  "piazzale",
    "strada",  "calle",  "c",        "carrer",   "paseo",    "passeig", "plaza",   "praça",   "praca",
    "avenida", "av",     "avda",     "avenue",   "travessa", "estrada", "rodovia", "alameda", "boulevard",
    "bd",      "bld",    "chemin",   "allée",    "impasse",  "quai",    "cours",   "ul",      "ulica",
    "al",      "aleja",  "os",       "osiedle",  "trg",      "ulice",   "náměstí", "nám",     "quadra",
    "λ",       "λεωφ",   "οδός",     "οδ",       "leoforos", "camino",  "ronda",   "rambla",  "travesía",
    "vía",     "rúa",    "rruga",    "sokak",    "cadde",    "caddesi", "jalan",   "jl",      "route",
    "rte",     "ruelle", "contrada", "località", "loc",      "vila",    "rodovia"};
constexpr std::string_view kUnitWords[] = {
    "apt",      "apartment", "suite", "ste",   "unit",   "room", "rm",  "floor", "fl",   "flat", "bldg",
    "building", "dept",      "lot",   "space", "office", "box",  "pmb", "trlr",  "hngr", "spc",  "whse"};
constexpr std::string_view kTitles[] = {
    "mr",      "mrs",       "ms",     "miss",     "mx",       "dr",      "prof",    "professor",
    "sir",     "madam",     "mister", "rev",      "reverend", "hon",     "lady",    "lord",
    "dame",    "herr",      "frau",   "monsieur", "mme",      "mlle",    "señor",   "señora",
    "sr",      "sra",       "srta",   "sig",      "signor",   "signora", "fr",      "capt",
    "captain", "sgt",       "col",    "gen",      "lt",       "det",     "officer", "judge",
    "senator", "president", "aunt",   "uncle",    "grandma",  "grandpa", "mrs",     "dra"};
constexpr std::string_view kNameSuffixes[] = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"};
constexpr std::string_view kNotNames[] = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed",
    "thu", "fri", "sat", "sun", "i", "god", "christmas", "easter", "internet", "english", "bot", "user",
    "hello", "hi", "dear", "thanks", "name", "phone", "email", "e-mail", "address", "website", "date",
    "mobile", "fax", "desk", "office", "where", "when", "who", "what", "personal", "info", "yes", "no", "ok",
    "okay", "please", "street", "road", "avenue", "suite", "apt", "unit", "inc", "ltd", "llc", "corp",
    "company", "group", "bank", "university", "college", "school", "hospital", "club", "orchestra", "band",
    "song", "album", "tv", "fm", "usa", "uk", "eu", "un", "nan",
    // Nationality and language adjectives are capitalised but never a name.
    "american", "british", "english", "scottish", "irish", "welsh", "canadian", "australian", "german",
    "french", "italian", "spanish", "portuguese", "dutch", "belgian", "swiss", "austrian", "danish",
    "swedish", "norwegian", "finnish", "icelandic", "greenlandic", "estonian", "latvian", "lithuanian",
    "polish", "czech", "slovak", "hungarian", "romanian", "bulgarian", "greek", "cypriot", "turkish",
    "russian", "ukrainian", "belarusian", "serbian", "croatian", "slovenian", "bosnian", "albanian",
    "chinese", "japanese", "korean", "indian", "pakistani", "iranian", "iraqi", "arab", "arabic", "israeli",
    "egyptian", "tunisian", "moroccan", "algerian", "nigerian", "kenyan", "african", "mexican", "brazilian",
    "argentinian", "argentine", "chilean", "colombian", "peruvian", "uruguayan", "venezuelan", "cuban",
    "european", "asian", "latin", "scandinavian", "nordic", "chechen", "georgian", "armenian", "persian",
    "hebrew", "catholic", "christian", "muslim", "jewish", "buddhist",
    // Words that start sentences and headings in capitals.
    "the", "this", "that", "these", "those", "there", "here", "then", "than", "thank", "our", "your", "his",
    "her", "its", "their", "we", "you", "they", "he", "she", "it", "if", "so", "but", "and", "or", "as", "at",
    "in", "on", "by", "for", "from", "with", "to", "of", "an", "a", "all", "any", "some", "every", "each",
    "no", "not", "why", "how", "which", "while", "after", "before", "since", "because", "also", "just",
    "only", "still", "even", "maybe", "perhaps", "please", "sorry", "ps", "re", "fw", "fwd", "subject",
    "action", "adventure", "animation", "comedy", "family", "mystery", "suspense", "drama", "horror",
    "romance", "documentary", "directed", "starring", "written", "produced", "ceo", "cto", "cfo", "vp", "hr",
    "it", "id", "pin", "ssn", "iban", "ip", "api", "sql", "select", "where", "users", "account", "card",
    "credit", "debit", "bot", "agent", "customer", "support", "abc", "fuse", "entertainment", "weekly",
    "tube", "snake"};
constexpr std::string_view kPersonCues[] = {"dear",
                                            "signed",
                                            "sincerely",
                                            "regards",
                                            "cheers",
                                            "thanks",
                                            "hi",
                                            "hello",
                                            "hey",
                                            "named",
                                            "called",
                                            "by",
                                            "with",
                                            "meet",
                                            "contact",
                                            "ask",
                                            "tell",
                                            "mr",
                                            "user",
                                            "kid",
                                            "son",
                                            "daughter",
                                            "wife",
                                            "husband",
                                            "brother",
                                            "sister",
                                            "mother",
                                            "father",
                                            "mom",
                                            "dad",
                                            "partner",
                                            "friend",
                                            "colleague",
                                            "boss",
                                            "patient",
                                            "client",
                                            "customer",
                                            "manager",
                                            "director",
                                            "producer",
                                            "author",
                                            "under",
                                            "attn",
                                            "cc",
                                            "name",
                                            "starring",
                                            "featuring",
                                            "says",
                                            "said",
                                            "asked",
                                            "told",
                                            "thank",
                                            "congratulations",
                                            "welcome",
                                            "married",
                                            "introducing",
                                            "speak",
                                            "ms",
                                            "mrs",
                                            "dr"};
constexpr std::string_view kPlaceCues[] = {
    "in",  "from",    "to",      "at",     "near", "visit",  "visiting",   "around",  "outside",
    "via", "leaving", "towards", "toward", "into", "across", "throughout", "serving", "where"};
constexpr std::string_view kHungarianTypes[] = {"u",     "utca",    "út",   "útja",  "tér",
                                                "körút", "krt",     "köz",  "sor",   "sétány",
                                                "fasor", "rakpart", "dűlő", "lépcső"};
constexpr std::string_view kDirections[] = {
    "north", "south", "east", "west",      "n",         "s",         "e",         "w",     "ne",
    "nw",    "se",    "sw",   "northeast", "northwest", "southeast", "southwest", "upper", "lower"};
constexpr std::string_view kParticles[] = {
    "van", "von", "de",  "del", "della", "der", "den", "da", "das", "dos", "di", "du",  "la",  "le", "el",
    "al",  "bin", "ben", "ibn", "af",    "av",  "zu",  "y",  "ter", "ten", "st", "dei", "des", "do"};
constexpr std::string_view kAddressCues[] = {"at", "on", "to", "is", "address", "addresses", "located"};
constexpr std::string_view kStopWords[] = {"in",    "its",  "it",   "the",  "a",     "an",   "of",   "and",
                                           "or",    "to",   "for",  "on",   "at",    "is",   "was",  "my",
                                           "his",   "her",  "our",  "your", "their", "this", "that", "these",
                                           "those", "with", "from", "by",   "as",    "be",   "are",  "were",
                                           "we",    "you",  "he",   "she",  "they",  "i",    "me",   "us"};
constexpr std::string_view kPoBoxes[] = {"postbox", "pob", "postfach", "apartado", "caixa"};

constexpr std::string_view kOrgMarkers[] = {"inc",
                                            "incorporated",
                                            "llc",
                                            "ltd",
                                            "limited",
                                            "corp",
                                            "corporation",
                                            "co",
                                            "company",
                                            "plc",
                                            "gmbh",
                                            "ag",
                                            "sa",
                                            "spa",
                                            "srl",
                                            "bv",
                                            "nv",
                                            "ab",
                                            "oy",
                                            "as",
                                            "kg",
                                            "group",
                                            "holdings",
                                            "partners",
                                            "associates",
                                            "bank",
                                            "capital",
                                            "university",
                                            "college",
                                            "school",
                                            "institute",
                                            "hospital",
                                            "clinic",
                                            "foundation",
                                            "trust",
                                            "orchestra",
                                            "band",
                                            "solutions",
                                            "systems",
                                            "technologies",
                                            "technology",
                                            "software",
                                            "labs",
                                            "lab",
                                            "research",
                                            "analytics",
                                            "media",
                                            "data",
                                            "networks",
                                            "services",
                                            "consulting",
                                            "industries",
                                            "international",
                                            "global",
                                            "ventures",
                                            "fund",
                                            "insurance",
                                            "financial",
                                            "investments",
                                            "enterprises",
                                            "agency",
                                            "studio",
                                            "studios",
                                            "records",
                                            "press",
                                            "publishing",
                                            "magazine",
                                            "news",
                                            "times",
                                            "journal",
                                            "reports",
                                            "motors",
                                            "airlines",
                                            "pharmaceuticals",
                                            "health",
                                            "healthcare",
                                            "energy",
                                            "council",
                                            "committee",
                                            "ministry",
                                            "department",
                                            "government",
                                            "party",
                                            "club",
                                            "society",
                                            "association",
                                            "union",
                                            "church",
                                            "museum",
                                            "library",
                                            "hotel",
                                            "restaurant",
                                            "cafe",
                                            "store",
                                            "shop",
                                            "market",
                                            "mall",
                                            "center",
                                            "centre",
                                            "team",
                                            "brothers",
                                            "sons",
                                            "family",
                                            "llp",
                                            "lp"};
// Verbs and nouns next to which a lone capitalised word is a person: "says Hartvigsson", "Nora is very
// reliable", "Scott had given Belle his address".
constexpr std::string_view kPersonVerbs[] = {
    "said",  "says",  "asked", "told",   "shouted", "replied", "wrote",   "explained", "added",
    "lives", "lived", "spent", "began",  "works",   "worked",  "had",     "has",       "was",
    "is",    "will",  "would", "called", "calls",   "named",   "thinks",  "thought",   "knows",
    "wants", "went",  "came",  "joined", "left",    "moved",   "married", "met",       "loves",
    "likes", "gave",  "sent",  "signed", "smiled",  "laughed", "cried",   "sang",      "played"};

class Builder {
 public:
  void Add(std::string_view entry, uint32_t flag) {
    // Phrases are keyed as their folded tokens joined by one space, the form the recognizers build from text.
    tokens_.clear();
    Tokenize(entry, tokens_);
    if (tokens_.empty()) return;
    std::string key;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (tokens_[i].kind == TokenKind::kJunk) return;
      if (i > 0) key.push_back(' ');
      FoldCase(entry.substr(tokens_[i].begin, tokens_[i].end - tokens_[i].begin), key);
    }
    if (key.size() > 255) return;
    if (tokens_.size() > 1) {
      std::string first;
      FoldCase(entry.substr(tokens_[0].begin, tokens_[0].end - tokens_[0].begin), first);
      uint32_t& n = phrase_tokens_[first];
      n = std::max<uint32_t>(n, std::min<uint32_t>(static_cast<uint32_t>(tokens_.size()), 15));
    }
    entries_[key] |= flag;
  }

  void AddLines(std::string_view list, uint32_t flag) {
    ForEachLine(list, [&](std::string_view line) { Add(line, flag); });
  }

  template <typename F>
  static void ForEachLine(std::string_view list, F f) {
    size_t pos = 0;
    while (pos < list.size()) {
      size_t nl = list.find('\n', pos);
      if (nl == std::string_view::npos) nl = list.size();
      std::string_view line = list.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) f(line);
      pos = nl + 1;
    }
  }

  void AddRaw(std::string key, uint32_t value) { raw_.emplace_back(std::move(key), value); }

  absl::StatusOr<std::string> Image(int32_t unseen) {
    std::vector<std::pair<std::string, uint32_t>> all;
    all.reserve(entries_.size() + phrase_tokens_.size() + raw_.size());
    for (auto& [k, f] : entries_) all.emplace_back(k, f);
    for (auto& [k, n] : phrase_tokens_) {
      auto it = entries_.find(k);
      if (it == entries_.end()) all.emplace_back(k, 0);
    }
    for (auto& kv : raw_) all.push_back(kv);
    std::sort(all.begin(), all.end());
    for (auto& [k, v] : all) {
      if (!k.empty() && k[0] == kAffixKeyMark) continue;
      auto it = phrase_tokens_.find(k);
      if (it != phrase_tokens_.end()) v |= it->second << kPhraseShift;
    }
    uint32_t slots = 1;
    while (slots < all.size() * 2) slots <<= 1;  // load factor <= 1/2: short linear probes
    std::string pool;
    std::vector<LexiconSlot> table(slots, LexiconSlot{0, 0, LexiconSlot::kEmpty});
    for (const auto& [k, v] : all) {
      if (pool.size() + k.size() + 1 >= LexiconSlot::kEmpty) {
        return absl::ResourceExhaustedError("lexicon image: key pool exceeds 4 GiB");
      }
      uint64_t h = LexiconHash(k);
      uint32_t i = static_cast<uint32_t>(h) & (slots - 1);
      while (table[i].key_off != LexiconSlot::kEmpty) i = (i + 1) & (slots - 1);
      table[i] = LexiconSlot{static_cast<uint32_t>(h >> 32), v, static_cast<uint32_t>(pool.size())};
      pool.push_back(static_cast<char>(k.size()));
      pool.append(k);
    }
    LexiconImageHeader header{LexiconImageHeader::kMagic,         slots,  static_cast<uint32_t>(all.size()),
                              static_cast<uint32_t>(pool.size()), unseen, {0, 0, 0}};
    std::string image(reinterpret_cast<const char*>(&header), sizeof(header));
    image.append(reinterpret_cast<const char*>(table.data()), table.size() * sizeof(LexiconSlot));
    image.append(pool);
    return image;
  }

 private:
  std::vector<Token> tokens_;
  absl::flat_hash_map<std::string, uint32_t> entries_;
  absl::flat_hash_map<std::string, uint32_t> phrase_tokens_;
  std::vector<std::pair<std::string, uint32_t>> raw_;
};

}  // namespace

absl::StatusOr<std::string> BuildLexiconImage(const LexiconSources& sources) {
  Builder b;
  b.AddLines(sources.first_names, kFirstName);
  b.AddLines(sources.names_moby, kMobyName);
  b.AddLines(sources.english_words, kCommonWord);
  b.AddLines(sources.cities, kCity);
  b.AddLines(sources.countries, kCountry);
  Builder::ForEachLine(sources.subdivisions, [&](std::string_view line) {
    size_t tab = line.find('\t');  // "US-CA\tCalifornia"
    if (tab == std::string_view::npos) return;
    b.Add(line.substr(tab + 1), kSubdivision | (line.substr(0, 3) == "US-" ? uint32_t{kUsState} : 0u));
  });
  Builder::ForEachLine(sources.street_suffixes, [&](std::string_view line) {
    size_t tab = line.find('\t');
    if (tab != std::string_view::npos) b.Add(line.substr(0, tab), kStreetSuffix);
  });
  for (std::string_view w : kStreetPrefixes) b.Add(w, kStreetPrefix);
  for (std::string_view w : kUnitWords) b.Add(w, kUnitWord);
  for (std::string_view w : kTitles) b.Add(w, kTitle);
  for (std::string_view w : kNameSuffixes) b.Add(w, kNameSuffix);
  for (std::string_view w : kNotNames) b.Add(w, kNotName);
  for (std::string_view w : kPersonCues) b.Add(w, kPersonCue);
  for (std::string_view w : kPlaceCues) b.Add(w, kPlaceCue);
  for (std::string_view w : kHungarianTypes) b.Add(w, kHungarianType);
  for (std::string_view w : kDirections) b.Add(w, kDirection);
  for (std::string_view w : kParticles) b.Add(w, kParticle);
  for (std::string_view w : kAddressCues) b.Add(w, kAddressCue);
  for (std::string_view w : kPoBoxes) b.Add(w, kPoBox);
  for (std::string_view w : kStopWords) b.Add(w, kStopWord);
  for (std::string_view w : kOrgMarkers) b.Add(w, kOrgMarker);
  for (std::string_view w : kPersonVerbs) b.Add(w, kPersonVerb);

  int32_t unseen = 0;
  int line_no = 0;
  absl::Status status;
  Builder::ForEachLine(sources.name_model, [&](std::string_view line) {
    ++line_no;
    if (!status.ok()) return;
    size_t tab = line.find('\t');
    int32_t w;
    if (tab == std::string_view::npos || tab == 0 ||
        !absl::SimpleAtoi(absl::string_view(line.data() + tab + 1, line.size() - tab - 1), &w) ||
        tab + 1 > 255) {
      status = absl::InvalidArgumentError(
          absl::StrCat("name_model.tsv line ", line_no, ": expected \"affix<TAB>integer weight\""));
      return;
    }
    std::string_view affix = line.substr(0, tab);
    if (affix == "#unseen") {
      unseen = w;
      return;
    }
    b.AddRaw(std::string(1, kAffixKeyMark).append(affix), static_cast<uint32_t>(w));
  });
  if (!status.ok()) return status;
  return b.Image(unseen);
}

}  // namespace veil::pii::internal
