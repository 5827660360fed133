// Dev driver for scripts/dev/pii_names_check.py: reads texts separated by \x1e on stdin and prints one line
// per span: index, begin, end (UTF-8 byte offsets), type (EntityType value), score.
#include <iostream>
#include <sstream>

#include "veil/pii/entity.h"
#include "veil/pii/names.h"
int main(int argc, char** argv) {
  std::stringstream ss;
  ss << std::cin.rdbuf();
  std::string all = ss.str();
  auto rs = veil::pii::NewDictionaryRecognizers();
  size_t pos = 0;
  int idx = 0;
  while (pos <= all.size()) {
    size_t e = all.find('\x1e', pos);
    if (e == std::string::npos) e = all.size();
    std::string_view t(all.data() + pos, e - pos);
    std::vector<veil::pii::Span> out;
    for (auto& r : rs) r->Find(t, out);
    for (auto& s : out)
      std::cout << idx << "\t" << s.begin << "\t" << s.end << "\t" << static_cast<int>(s.type) << "\t"
                << s.score << "\n";
    pos = e + 1;
    ++idx;
    if (e == all.size()) break;
  }
}
