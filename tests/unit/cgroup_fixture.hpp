// A fake cgroup tree in a temp dir for the driver tests. mkdir on a real
// cgroupfs makes the kernel's interface files; here the test makes them
// beforehand (the drivers accept an existing directory), with the values a
// fresh kernel cgroup holds.
#pragma once
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>

namespace nrun::test {

class FakeCgroupTree {
 public:
  FakeCgroupTree() {
    char tmpl[] = "/tmp/nrun-cgroup-test.XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  ~FakeCgroupTree() { std::filesystem::remove_all(root_); }
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // Creates dir (and parents) with the given files and contents.
  void dir(const std::filesystem::path& d, std::initializer_list<std::pair<const char*, const char*>> files) {
    std::filesystem::create_directories(d);
    for (const auto& [name, contents] : files) write(d / name, contents);
  }

  static void write(const std::filesystem::path& p, const std::string& contents) {
    std::ofstream(p, std::ios::trunc) << contents;
  }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  // What rmdir on cgroupfs does to the interface files: they go with the
  // directory. The fake tree drops them first so rmdir can succeed.
  static void drop_files(const std::filesystem::path& d) {
    for (const auto& e : std::filesystem::directory_iterator(d))
      if (e.is_regular_file()) std::filesystem::remove(e.path());
  }

 private:
  std::filesystem::path root_;
};

}  // namespace nrun::test
