// Build-time generator of the dictionary recognizers' lexicon image (dictionary_lexicon.h):
//   veil_pii_names_gen DATA_DIR OUT_FILE
// reads the word lists of DATA_DIR (data/pii) and writes the image that names_data.S.in embeds. Exit status
// 0 on success, 1 with a message naming the file on a read, parse or write error.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "veil/pii/dictionary_lexicon_build.h"

namespace {

bool Read(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR OUT_FILE\n", argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  const char* files[] = {"first_names.txt",  "names_moby.txt",    "cities.txt",          "countries.txt",
                         "subdivisions.tsv", "english_words.txt", "street_suffixes.tsv", "name_model.tsv"};
  std::string text[8];
  for (int i = 0; i < 8; ++i) {
    if (!Read(dir + "/" + files[i], text[i])) {
      std::fprintf(stderr, "%s: cannot read %s/%s\n", argv[0], dir.c_str(), files[i]);
      return 1;
    }
  }
  veil::pii::internal::LexiconSources sources{text[0], text[1], text[2], text[3],
                                              text[4], text[5], text[6], text[7]};
  auto image = veil::pii::internal::BuildLexiconImage(sources);
  if (!image.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[0], image.status().ToString().c_str());
    return 1;
  }
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(image->data(), static_cast<std::streamsize>(image->size()));
  if (!out.flush()) {
    std::fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[2]);
    return 1;
  }
  return 0;
}
