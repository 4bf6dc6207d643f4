#include "lab/json_lines.hpp"

#include <cctype>
#include <set>

namespace nrun::lab {

namespace {
bool is_word(const std::string& key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}
}  // namespace

std::string path_key(const std::string& parent, const std::string& key) {
  if (is_word(key)) return parent.empty() ? key : parent + "." + key;
  std::string quoted = "[\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return parent + quoted + "\"]";
}

std::string path_index(const std::string& parent, size_t index) { return parent + "[" + std::to_string(index) + "]"; }

// A recursive walk over valid JSON that records where each path begins.
struct JsonLines::Scanner {
  std::string_view s;
  size_t pos = 0;
  int line = 1;
  JsonLines& out;

  bool at_end() const { return pos >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[pos]; }
  void advance() {
    if (!at_end() && s[pos] == '\n') ++line;
    ++pos;
  }
  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s[pos]))) advance();
  }

  std::string string() {
    std::string v;
    advance();  // the opening quote
    while (!at_end() && peek() != '"') {
      if (peek() != '\\') {
        v += peek();
        advance();
        continue;
      }
      advance();
      const char e = peek();
      advance();
      switch (e) {
        case 'n':
          v += '\n';
          break;
        case 't':
          v += '\t';
          break;
        case 'r':
          v += '\r';
          break;
        case 'b':
          v += '\b';
          break;
        case 'f':
          v += '\f';
          break;
        case 'u': {
          unsigned cp = 0;
          for (int i = 0; i < 4 && !at_end(); ++i) {
            cp = cp * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(peek()))
                                                     ? peek() - '0'
                                                     : std::tolower(static_cast<unsigned char>(peek())) - 'a' + 10);
            advance();
          }
          append_utf8(v, cp);
          break;
        }
        default:
          v += e;
      }
    }
    advance();  // the closing quote
    return v;
  }

  void value(const std::string& path) {
    skip_space();
    const char c = peek();
    if (c == '{') {
      advance();
      std::set<std::string> seen;
      for (;;) {
        skip_space();
        if (peek() == '}' || at_end()) break;
        if (peek() != '"') return;  // not valid JSON: stop recording
        const int key_line = line;
        const std::string key = string();
        const std::string child = path_key(path, key);
        if (!seen.insert(key).second) out.duplicates_.push_back(child);
        out.lines_[child] = key_line;
        skip_space();
        if (peek() != ':') return;
        advance();
        value(child);
        skip_space();
        if (peek() == ',') advance();
      }
      advance();
    } else if (c == '[') {
      advance();
      for (size_t i = 0;; ++i) {
        skip_space();
        if (peek() == ']' || at_end()) break;
        const std::string child = path_index(path, i);
        out.lines_[child] = line;
        value(child);
        skip_space();
        if (peek() == ',') advance();
      }
      advance();
    } else if (c == '"') {
      string();
    } else {
      while (!at_end() && !std::isspace(static_cast<unsigned char>(peek())) && peek() != ',' && peek() != '}' &&
             peek() != ']')
        advance();
    }
  }
};

JsonLines::JsonLines(std::string_view text) {
  Scanner sc{text, 0, 1, *this};
  sc.value("");
}

int JsonLines::line_of(const std::string& path) const {
  std::string p = path;
  while (!p.empty()) {
    if (auto it = lines_.find(p); it != lines_.end()) return it->second;
    // Drop the last segment: ".key", "[n]" or "[\"key\"]".
    const size_t dot = p.rfind('.'), bracket = p.rfind('[');
    if (bracket != std::string::npos && (dot == std::string::npos || bracket > dot || p.back() == ']')) {
      // A quoted key may contain dots: cut at the bracket that opens it.
      if (p.back() == ']' && p.size() >= 2 && p[p.size() - 2] == '"') {
        const size_t open = p.rfind("[\"");
        p.resize(open == std::string::npos ? 0 : open);
      } else {
        p.resize(bracket);
      }
    } else if (dot != std::string::npos) {
      p.resize(dot);
    } else {
      p.clear();
    }
  }
  return 0;
}

}  // namespace nrun::lab
