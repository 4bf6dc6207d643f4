// Images end to end: import a rootfs tarball and run it, ls, rm (refused
// while used), commit a container, export and re-import. Containers run with
// --net none, as in run_test.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;

class ImageTest : public NrunTest {
 protected:
  // A busybox rootfs with a marker, a file to delete later, a private file
  // owned by 1000:1000 and two hard links, as a tarball.
  fs::path tarball(const std::string& name, bool gzip = false) {
    const fs::path dir = make_rootfs(name + "-rootfs", {{"etc/marker", "imported\n"},
                                                        {"etc/todelete", "doomed\n"},
                                                        {"etc/secret", "s3cret\n"},
                                                        {"etc/hl1", "linked\n"}});
    fs::permissions(dir / "etc/secret", fs::perms::owner_read | fs::perms::owner_write);
    if (::chown((dir / "etc/secret").c_str(), 1000, 1000) != 0) ADD_FAILURE() << "chown";
    fs::create_hard_link(dir / "etc/hl1", dir / "etc/hl2");
    return make_tarball(dir, name + (gzip ? ".tar.gz" : ".tar"), gzip);
  }

  void import(const fs::path& file, const std::string& name) {
    const auto r = nrun({"image", "import", file.string(), name});
    ASSERT_EQ(r.exit_code, 0) << r;
  }

  // What a container of `image` sees of the files tarball() made.
  void expect_imported_files(const std::string& image) {
    const auto r = nrun({"run", "--net", "none", image, "sh", "-c",
                         "cat /etc/marker; stat -c '%u:%g %a' /etc/secret; stat -c %h /etc/hl2; "
                         "test -L /bin/sh && echo symlink"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "imported\n1000:1000 600\n2\nsymlink\n") << r;
  }

  bool image_listed(const std::string& name) {
    const auto r = nrun({"image", "ls"});
    EXPECT_EQ(r.exit_code, 0) << r;
    for (const auto& l : lines(r.out))
      if (l.rfind(name + " ", 0) == 0 || l.rfind(name + "\t", 0) == 0 || l == name ||
          l.find(" " + name + " ") != std::string::npos)
        return true;
    return false;
  }
};

TEST_F(ImageTest, ImportTarballThenRun) {
  import(tarball("plain"), "it-img");
  EXPECT_TRUE(image_listed("it-img"));
  expect_imported_files("it-img");
}

TEST_F(ImageTest, ImportGzipTarballWithTag) {
  import(tarball("zipped", /*gzip=*/true), "it-img:v1");
  EXPECT_TRUE(image_listed("it-img:v1") || image_listed("it-img"));
  expect_imported_files("it-img:v1");
}

TEST_F(ImageTest, DefaultImageIsListedAfterFirstUse) {
  ASSERT_EQ(nrun({"run", "--net", "none", "busybox", "true"}).exit_code, 0);
  EXPECT_TRUE(image_listed("busybox"));
}

TEST_F(ImageTest, ImportRejectsBadInput) {
  const fs::path tar = tarball("base");
  import(tar, "taken");
  expect_usage_error(nrun({"image", "import", tar.string(), "taken"}), "name taken");
  expect_usage_error(nrun({"image", "import", (root() / "missing.tar").string(), "fresh"}), "missing file");
  EXPECT_FALSE(image_listed("fresh"));
  expect_usage_error(nrun({"image", "import", tar.string(), "Bad/Name"}), "invalid name");
}

TEST_F(ImageTest, RmRefusedWhileUsed) {
  import(tarball("base"), "used");
  run_detached({"--net", "none", "--name", "user", "used", "sleep", "30"});
  expect_usage_error(nrun({"image", "rm", "used"}), "image in use");
  EXPECT_TRUE(image_listed("used"));
  EXPECT_EQ(status_of("user"), "running");

  ASSERT_EQ(nrun({"rm", "-f", "user"}).exit_code, 0);
  const auto rm = nrun({"image", "rm", "used"});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_FALSE(image_listed("used"));
  expect_usage_error(nrun({"image", "rm", "used"}), "unknown image");
}

TEST_F(ImageTest, CommitThenRunSeesTheChanges) {
  import(tarball("base"), "base");
  const auto r = nrun(
      {"run", "--net", "none", "--name", "c", "base", "sh", "-c", "echo committed > /etc/cfile; rm /etc/todelete"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto commit = nrun({"commit", "c", "snap"});
  ASSERT_EQ(commit.exit_code, 0) << commit;
  EXPECT_TRUE(image_listed("snap"));

  const auto check = nrun(
      {"run", "--net", "none", "snap", "sh", "-c", "cat /etc/cfile /etc/marker; test -e /etc/todelete || echo gone"});
  EXPECT_EQ(check.exit_code, 0) << check;
  EXPECT_EQ(check.out, "committed\nimported\ngone\n") << check;

  // The base image is unchanged.
  const auto base =
      nrun({"run", "--net", "none", "base", "sh", "-c", "cat /etc/todelete; test -e /etc/cfile || echo absent"});
  EXPECT_EQ(base.out, "doomed\nabsent\n") << base;

  expect_usage_error(nrun({"commit", "c", "snap"}), "image name taken");
  expect_usage_error(nrun({"commit", "no-such-container", "snap2"}), "unknown container");
}

TEST_F(ImageTest, CommitOfTheDefaultImage) {
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "c", "busybox", "sh", "-c", "echo on-busybox > /note"}).exit_code,
            0);
  const auto commit = nrun({"commit", "c", "noted"});
  ASSERT_EQ(commit.exit_code, 0) << commit;
  const auto r = nrun({"run", "--net", "none", "noted", "cat", "/note"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "on-busybox\n") << r;
}

TEST_F(ImageTest, ExportImportRoundTrip) {
  import(tarball("base"), "base");
  ASSERT_EQ(
      nrun({"run", "--net", "none", "--name", "c", "base", "sh", "-c", "echo committed > /etc/cfile; rm /etc/todelete"})
          .exit_code,
      0);
  ASSERT_EQ(nrun({"commit", "c", "snap"}).exit_code, 0);

  const fs::path out = root() / "snap-export.tar";
  const auto ex = nrun({"image", "export", "snap", out.string()});
  ASSERT_EQ(ex.exit_code, 0) << ex;
  ASSERT_TRUE(fs::exists(out));

  // Flat: whiteouts applied, not carried along.
  const auto listing = run_process({"tar", "-tvf", out.string()});
  ASSERT_EQ(listing.exit_code, 0) << listing;
  EXPECT_EQ(listing.out.find("todelete"), std::string::npos) << listing.out;
  EXPECT_EQ(listing.out.find(".wh."), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find("etc/cfile"), std::string::npos) << listing.out;

  import(out, "again");
  const auto r =
      nrun({"run", "--net", "none", "again", "sh", "-c", "cat /etc/cfile; test -e /etc/todelete || echo gone"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "committed\ngone\n") << r;
  expect_imported_files("again");

  expect_usage_error(nrun({"image", "export", "no-such-image", (root() / "x.tar").string()}), "unknown image");
  EXPECT_FALSE(fs::exists(root() / "x.tar"));
}


// A decompression bomb: a few hundred KB of gzip that unpack to 100 MB.
// Refused past --max-size, and past what the store's filesystem can take
// (a 64 MB tmpfs under the root here), with nothing left behind.
TEST_F(ImageTest, ImportOfABombStopsBeforeTheDiskFills) {
  const fs::path dir = make_rootfs("bomb-rootfs");
  ASSERT_EQ(run_process({"dd", "if=/dev/zero", "of=" + (dir / "zeros").string(), "bs=1M", "count=100"}).exit_code, 0);
  const fs::path bomb = make_tarball(dir, "bomb.tar.gz", /*gzip=*/true);
  ASSERT_LT(fs::file_size(bomb), 2u << 20);
  fs::remove_all(dir);
  const RunResult capped = nrun({"image", "import", "--max-size", "20m", bomb.string(), "bomb"});
  expect_usage_error(capped, "--max-size");
  EXPECT_NE(capped.err.find("more than 20971520 bytes"), std::string::npos) << capped;
  EXPECT_FALSE(image_listed("bomb"));
  expect_usage_error(nrun({"image", "import", "--max-size", "lots", bomb.string(), "bomb"}), "bad --max-size");

  if (!in_throwaway_namespaces()) GTEST_SKIP() << "mounts a tmpfs: only inside scripts/test.sh's namespaces";
  const fs::path small = root() / "small";
  fs::create_directories(small);
  ASSERT_EQ(run_process({"mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small.string()}).exit_code, 0);
  const fs::path small_root = small / "root";
  const RunResult full = run_process({NRUN_BINARY, "--root", small_root.string(), "image", "import", bomb.string(), "bomb"});
  EXPECT_EQ(full.exit_code, 125) << full;
  EXPECT_NE(full.err.find("more than the store's filesystem can take"), std::string::npos) << full;
  // Nothing of it stays: the half-made layer went with the failure.
  const fs::path layers = small_root / "images" / "layers";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layers, ec)) ADD_FAILURE() << "left: " << e.path();
  run_process({"umount", small.string()});
}

// A sparse file stays sparse through export and import: holes are recorded,
// not written out as zeros.
TEST_F(ImageTest, ExportAndImportKeepASparseFileSparse) {
  const fs::path dir = make_rootfs("sparse-rootfs", {{"data/head", "start\n"}});
  ASSERT_EQ(run_process({"truncate", "-s", "10G", (dir / "data/sparse").string()}).exit_code, 0);
  ASSERT_EQ(run_process({"sh", "-c", "echo end >> " + (dir / "data/sparse").string()}).exit_code, 0);
  import(dir, "sparse");
  const fs::path tar = root() / "sparse.tar";
  const RunResult r = nrun({"image", "export", "sparse", tar.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(fs::file_size(tar), 64u << 20) << "the export wrote the holes out";
  import(tar, "sparse-again");
  const RunResult seen = nrun({"run", "--rm", "--net", "none", "sparse-again", "sh", "-c",
                               "stat -c %s /data/sparse; tail -c 4 /data/sparse"});
  EXPECT_EQ(seen.out, std::to_string((10ull << 30) + 4) + "\nend\n") << seen;
  fs::remove(tar);
}

}  // namespace
}  // namespace nrun::it
