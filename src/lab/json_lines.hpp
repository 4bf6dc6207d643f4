// Where things are in a JSON text, for messages that name the line of a bad
// key: nlohmann_json 3.11 keeps no positions, so this walks the text once
// more and records the line of every key and array element by its path.
//
// Paths are written as users read them: nodes.h1.exec[0], and keys that are
// not plain words in brackets: nodes.r1.sysctls["net.ipv4.ip_forward"].
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nrun::lab {

std::string path_key(const std::string& parent, const std::string& key);
std::string path_index(const std::string& parent, size_t index);

class JsonLines {
 public:
  // `text` must be valid JSON (parse it first); a text that is not simply
  // yields fewer known lines.
  explicit JsonLines(std::string_view text);

  // The 1-based line of the key or element at `path`, or of the closest
  // enclosing one that is known; 0 for the document itself.
  int line_of(const std::string& path) const;

  // Keys given twice in one object (JSON parsers keep the last silently):
  // the path of each second occurrence.
  const std::vector<std::string>& duplicates() const { return duplicates_; }

 private:
  struct Scanner;
  std::map<std::string, int> lines_;
  std::vector<std::string> duplicates_;
};

}  // namespace nrun::lab
