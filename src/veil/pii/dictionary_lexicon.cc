#include "veil/pii/dictionary_lexicon.h"

#include <vector>

#include "veil/pii/dictionary_text.h"
#include "veil/pii/names_data.h"

namespace veil::pii::internal {
namespace {

// Closed classes of the grammar (our own compilation; see docs/pii-parts/names.md).
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
    "january",   "february", "march",     "april",    "may",    "june",       "july",      "august",
    "september", "october",  "november",  "december", "monday", "tuesday",    "wednesday", "thursday",
    "friday",    "saturday", "sunday",    "jan",      "feb",    "mar",        "apr",       "jun",
    "jul",       "aug",      "sep",       "sept",     "oct",    "nov",        "dec",       "mon",
    "tue",       "wed",      "thu",       "fri",      "sat",    "sun",        "i",         "god",
    "christmas", "easter",   "internet",  "english",  "bot",    "user",       "hello",     "hi",
    "dear",      "thanks",   "name",      "phone",    "email",  "e-mail",     "address",   "website",
    "date",      "mobile",   "fax",       "desk",     "office", "where",      "when",      "who",
    "what",      "personal", "info",      "yes",      "no",     "ok",         "okay",      "please",
    "street",    "road",     "avenue",    "suite",    "apt",    "unit",       "inc",       "ltd",
    "llc",       "corp",     "company",   "group",    "bank",   "university", "college",   "school",
    "hospital",  "club",     "orchestra", "band",     "song",   "album",      "tv",        "fm",
    "usa",       "uk",       "eu",        "un",       "nan"};
constexpr std::string_view kPersonCues[] = {
    "dear",      "signed", "sincerely", "regards", "cheers",   "thanks",   "hi",       "hello",
    "hey",       "named",  "called",    "by",      "with",     "meet",     "contact",  "ask",
    "tell",      "mr",     "user",      "kid",     "son",      "daughter", "wife",     "husband",
    "brother",   "sister", "mother",    "father",  "mom",      "dad",      "partner",  "friend",
    "colleague", "boss",   "patient",   "client",  "customer", "manager",  "director", "producer",
    "author",    "under",  "attn",      "cc",      "from",     "and",      "name"};
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

// Street-name endings in European languages (German, Dutch, Scandinavian, Finnish, Estonian, Icelandic,
// Czech/Slovak, Polish, Hungarian, Slovenian), longest first is not needed: any match counts.
constexpr std::string_view kStreetMorphemes[] = {
    "straße", "strasse", "str",       "gasse",    "weg",      "allee",  "platz",  "damm",   "ufer",
    "steig",  "pfad",    "graben",    "chaussee", "straat",   "laan",   "plein",  "gracht", "kade",
    "dreef",  "singel",  "steeg",     "vej",      "gade",     "vænget", "stræde", "allé",   "torv",
    "gata",   "gatan",   "vägen",     "väg",      "gränd",    "stigen", "vegen",  "veien",  "vei",
    "veg",    "gata",    "katu",      "tie",      "kuja",     "polku",  "raitti", "kaari",  "rinne",
    "piha",   "tänav",   "maantee",   "põik",     "puiestee", "stræti", "braut",  "vegur",  "stígur",
    "gata",   "ulice",   "třída",     "ulica",    "cesta",    "utca",   "út",     "útja",   "tér",
    "körút",  "sétány",  "straatweg", "stræde",   "gården"};

}  // namespace

const Lexicon& Lexicon::Get() {
  static const Lexicon* lexicon = new Lexicon();
  return *lexicon;
}

void Lexicon::Add(std::string_view entry, uint32_t flag) {
  // A plain word (letters only, the common case) is its own key.
  bool plain = !entry.empty();
  for (char c : entry) {
    unsigned char b = static_cast<unsigned char>(c);
    plain &= b >= 0x80 || (static_cast<unsigned char>((b | 0x20) - 'a') < 26);
  }
  if (plain && static_cast<unsigned char>(entry[0]) < 0x80) {
    std::string key;
    FoldCase(entry, key);
    entries_[key] |= flag;
    return;
  }
  // Phrases are keyed as their folded tokens joined by one space, the form the recognizers build from text.
  std::vector<Token> tokens;
  Tokenize(entry, tokens);
  if (tokens.empty()) return;
  std::string key;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind == TokenKind::kJunk) return;
    if (i > 0) key.push_back(' ');
    FoldCase(entry.substr(tokens[i].begin, tokens[i].end - tokens[i].begin), key);
  }
  if (tokens.size() > 1) {
    std::string first;
    FoldCase(entry.substr(tokens[0].begin, tokens[0].end - tokens[0].begin), first);
    int& n = phrase_tokens_[first];
    if (static_cast<int>(tokens.size()) > n) n = static_cast<int>(tokens.size());
  }
  entries_[key] |= flag;
}

void Lexicon::AddList(std::string_view list, uint32_t flag) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t nl = list.find('\n', pos);
    if (nl == std::string_view::npos) nl = list.size();
    std::string_view line = list.substr(pos, nl - pos);
    if (!line.empty()) Add(line, flag);
    pos = nl + 1;
  }
}

Lexicon::Lexicon() {
  const EmbeddedLists& lists = Lists();
  entries_.reserve(260000);
  AddList(lists.first_names, kFirstName);
  AddList(lists.names_moby, kMobyName);
  AddList(lists.english_words, kCommonWord);
  AddList(lists.cities, kCity);
  AddList(lists.countries, kCountry);
  // subdivisions.tsv: "US-CA\tCalifornia".
  size_t pos = 0;
  std::string_view subs = lists.subdivisions;
  while (pos < subs.size()) {
    size_t nl = subs.find('\n', pos);
    if (nl == std::string_view::npos) nl = subs.size();
    std::string_view line = subs.substr(pos, nl - pos);
    size_t tab = line.find('\t');
    if (tab != std::string_view::npos) {
      uint32_t flag = kSubdivision | (line.substr(0, 3) == "US-" ? uint32_t{kUsState} : 0u);
      Add(line.substr(tab + 1), flag);
    }
    pos = nl + 1;
  }
  std::string_view suffixes = lists.street_suffixes;
  pos = 0;
  while (pos < suffixes.size()) {
    size_t nl = suffixes.find('\n', pos);
    if (nl == std::string_view::npos) nl = suffixes.size();
    std::string_view line = suffixes.substr(pos, nl - pos);
    size_t tab = line.find('\t');
    if (tab != std::string_view::npos) Add(line.substr(0, tab), kStreetSuffix);
    pos = nl + 1;
  }
  for (std::string_view w : kStreetPrefixes) Add(w, kStreetPrefix);
  for (std::string_view w : kUnitWords) Add(w, kUnitWord);
  for (std::string_view w : kTitles) Add(w, kTitle);
  for (std::string_view w : kNameSuffixes) Add(w, kNameSuffix);
  for (std::string_view w : kNotNames) Add(w, kNotName);
  for (std::string_view w : kPersonCues) Add(w, kPersonCue);
  for (std::string_view w : kPlaceCues) Add(w, kPlaceCue);
  for (std::string_view w : kHungarianTypes) Add(w, kHungarianType);
  for (std::string_view w : kDirections) Add(w, kDirection);
  for (std::string_view w : kParticles) Add(w, kParticle);
  for (std::string_view w : kAddressCues) Add(w, kAddressCue);
  for (std::string_view w : kPoBoxes) Add(w, kPoBox);
  for (std::string_view w : kStopWords) Add(w, kStopWord);
}

bool Lexicon::HasStreetMorpheme(std::string_view folded) const {
  for (std::string_view m : kStreetMorphemes) {
    if (folded.size() >= m.size() && folded.substr(folded.size() - m.size()) == m) return true;
  }
  return false;
}

}  // namespace veil::pii::internal
