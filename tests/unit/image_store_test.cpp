// The image store against a temporary nrun root: import (directory, tar,
// tar.gz, tar.xz), commit, export, remove and the default image. Owners,
// device nodes and trusted.* xattrs need root, which these tests run as.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include "runtime/archive.hpp"
#include "runtime/default_image.hpp"
#include "runtime/image_store.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace fs = std::filesystem;
using namespace nrun::runtime;
using nrun::sys::Error;
using nrun::sys::UsageError;

namespace {

struct TarEntry {
  std::string path;
  mode_t type;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; a hard link is AE_IFREG with `link`
  mode_t perm = 0644;
  int64_t uid = 0;
  std::string content;
  std::string link;  // symlink target, or hard link target path
  bool hardlink = false;
};

enum class Filter { none, gzip, xz };

void write_tar(const fs::path& file, Filter filter, const std::vector<TarEntry>& entries) {
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
  if (filter == Filter::gzip) {
    ASSERT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  } else if (filter == Filter::xz) {
    ASSERT_EQ(archive_write_add_filter_xz(a), ARCHIVE_OK);
  }
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.uid);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (t.type == AE_IFLNK) archive_entry_set_symlink(e, t.link.c_str());
    if (t.hardlink) archive_entry_set_hardlink(e, t.link.c_str());
    archive_entry_set_size(e, t.type == AE_IFREG && !t.hardlink ? static_cast<la_int64_t>(t.content.size()) : 0);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << t.path;
    if (!t.content.empty() && !t.hardlink) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

void write_file(const fs::path& p, const std::string& data, mode_t mode = 0644) {
  fs::create_directories(p.parent_path());
  nrun::sys::Fd fd = nrun::sys::open_path(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  nrun::sys::write_all(fd.get(), data);
  ASSERT_EQ(::fchmod(fd.get(), mode), 0);
}

std::string read(const fs::path& p) { return nrun::sys::read_file(p); }

// A layer's files, relative and sorted, for whole-tree comparisons.
std::vector<std::string> tree(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directory(root_); }

  // Only the store's own bookkeeping: no image, no layer, no temp dir.
  void expect_store_empty() {
    EXPECT_TRUE(ImageStore(root_).list().empty());
    if (fs::exists(root_ / "images/layers")) {
      EXPECT_TRUE(fs::is_empty(root_ / "images/layers"));
    }
    if (!fs::exists(root_ / "images")) return;
    for (const auto& e : fs::directory_iterator(root_ / "images")) {
      EXPECT_TRUE(e.path().filename() == "layers" || e.path().filename() == ".lock") << e.path();
    }
  }

  nrun::test::TempDir dir_{"nrun-image-test"};
  const fs::path tmp_ = dir_.path(), root_ = tmp_ / "root";
};

TEST(ImageStoreName, Validation) {
  for (const char* ok : {"busybox", "a", "0x", "my-box_1.0", "alpine:3.19", "x:latest", "layers:1"})
    EXPECT_TRUE(ImageStore::is_valid_name(ok)) << ok;
  for (const char* bad : {"", "Busybox", "-x", ".x", "_x", "a:", ":a", "a:b:c", "a/b", "a b", "layers", "x:-1",
                          "x:.."})
    EXPECT_FALSE(ImageStore::is_valid_name(bad)) << bad;
  EXPECT_TRUE(ImageStore::is_valid_name(std::string(128, 'a')));
  EXPECT_FALSE(ImageStore::is_valid_name(std::string(129, 'a')));
}

TEST(ImageArchive, CleanEntryPath) {
  EXPECT_EQ(clean_entry_path("./a/b"), "a/b");
  EXPECT_EQ(clean_entry_path("/etc//passwd"), "etc/passwd");
  EXPECT_EQ(clean_entry_path("bin/"), "bin");
  EXPECT_EQ(clean_entry_path("."), "");
  EXPECT_EQ(clean_entry_path("./"), "");
  EXPECT_EQ(clean_entry_path("a..b/..c"), "a..b/..c");
  EXPECT_EQ(clean_entry_path("a/../b"), std::nullopt);
  EXPECT_EQ(clean_entry_path("../x"), std::nullopt);
  EXPECT_EQ(clean_entry_path("/.."), std::nullopt);
}

TEST(ImageArchive, LayerMergeRules) {
  using K = LayerMerge::Kind;
  LayerMerge m;
  // Top layer: a whiteout for etc/old, an opaque var, a file where lower has a dir.
  EXPECT_TRUE(m.visit("etc", K::directory, false).emit);
  EXPECT_FALSE(m.visit("etc/old", K::whiteout, false).emit);
  const auto var = m.visit("var", K::directory, true);
  EXPECT_TRUE(var.emit && var.descend);
  EXPECT_TRUE(m.visit("var/new", K::other, false).emit);  // the opaque dir's own contents stay
  EXPECT_TRUE(m.visit("opt", K::other, false).emit);
  m.next_layer();
  // Bottom layer.
  const auto etc = m.visit("etc", K::directory, false);
  EXPECT_FALSE(etc.emit);
  EXPECT_TRUE(etc.descend);
  EXPECT_TRUE(m.visit("etc/passwd", K::other, false).emit);
  EXPECT_FALSE(m.visit("etc/old", K::other, false).emit);
  EXPECT_FALSE(m.visit("etc/old/deeper", K::other, false).emit);
  EXPECT_FALSE(m.visit("var", K::directory, false).descend);
  EXPECT_FALSE(m.visit("var/log", K::directory, false).emit);
  EXPECT_FALSE(m.visit("opt", K::directory, false).emit);
  EXPECT_FALSE(m.visit("opt/tool", K::other, false).emit);
  EXPECT_TRUE(m.visit("usr", K::directory, false).emit);
}

class ImageImportTar : public ImageStoreTest, public ::testing::WithParamInterface<Filter> {};

TEST_P(ImageImportTar, KeepsModesOwnersAndLinks) {
  const fs::path file = tmp_ / "rootfs.tar";
  write_tar(file, GetParam(),
            {
                {"./bin", AE_IFDIR, 0755},
                {"./bin/tool", AE_IFREG, 0750, 1234, "#!/bin/sh\necho tool\n"},
                {"./bin/alias", AE_IFLNK, 0777, 0, "", "tool"},
                {"./bin/hard", AE_IFREG, 0750, 1234, "", "bin/tool", true},
                {"/etc/abs", AE_IFREG, 0600, 0, "absolute"},
                {"dev/null", AE_IFCHR, 0666},
            });
  const ImageInfo info = ImageStore(root_).import(file, "tarred");
  ASSERT_EQ(info.layers.size(), 1u);
  const fs::path l = info.layers[0];

  const struct stat tool = lstat_of(l / "bin/tool");
  EXPECT_TRUE(S_ISREG(tool.st_mode));
  EXPECT_EQ(tool.st_mode & 07777, 0750u);
  EXPECT_EQ(tool.st_uid, 1234u);
  EXPECT_EQ(tool.st_gid, 1234u);
  EXPECT_EQ(tool.st_mtime, 1700000000);
  EXPECT_EQ(read(l / "bin/tool"), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(fs::read_symlink(l / "bin/alias"), "tool");
  const struct stat hard = lstat_of(l / "bin/hard");
  EXPECT_EQ(hard.st_ino, tool.st_ino);
  EXPECT_EQ(tool.st_nlink, 2u);
  EXPECT_EQ(read(l / "etc/abs"), "absolute");  // a leading '/' lands inside the layer
  EXPECT_TRUE(S_ISCHR(lstat_of(l / "dev/null").st_mode));

  EXPECT_TRUE(ImageStore(root_).exists("tarred"));
  const ImageInfo again = ImageStore(root_).get("tarred");
  EXPECT_EQ(again.layers, info.layers);
  EXPECT_FALSE(again.created.empty());
}

INSTANTIATE_TEST_SUITE_P(ImageCompression, ImageImportTar, ::testing::Values(Filter::none, Filter::gzip, Filter::xz),
                         [](const auto& info) {
                           return std::string(info.param == Filter::none   ? "plain"
                                              : info.param == Filter::gzip ? "gzip"
                                                                           : "xz");
                         });

TEST_F(ImageStoreTest, ImportsDirectory) {
  const fs::path src = tmp_ / "src";
  write_file(src / "bin/tool", "tool", 0750);
  ASSERT_EQ(::lchown((src / "bin/tool").c_str(), 1234, 1234), 0);
  fs::create_hard_link(src / "bin/tool", src / "bin/hard");
  fs::create_symlink("/bin/tool", src / "bin/link");
  ASSERT_EQ(::mknod((src / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::setxattr((src / "bin/tool").c_str(), "user.note", "hi", 2, 0), 0);

  const ImageInfo info = ImageStore(root_).import(src, "copied");
  const fs::path l = info.layers.at(0);
  EXPECT_EQ(tree(l), tree(src));
  const struct stat tool = lstat_of(l / "bin/tool");
  EXPECT_EQ(tool.st_mode & 07777, 0750u);
  EXPECT_EQ(tool.st_uid, 1234u);
  EXPECT_EQ(lstat_of(l / "bin/hard").st_ino, tool.st_ino);
  EXPECT_EQ(fs::read_symlink(l / "bin/link"), "/bin/tool");
  EXPECT_EQ(lstat_of(l / "null").st_rdev, makedev(1, 3));
  char value[8] = {};
  EXPECT_EQ(::getxattr((l / "bin/tool").c_str(), "user.note", value, sizeof value), 2);
  EXPECT_STREQ(value, "hi");
}

TEST_F(ImageStoreTest, ImportRefusesExistingName) {
  const fs::path src = tmp_ / "src";
  write_file(src / "a", "a");
  ImageStore store(root_);
  store.import(src, "one");
  EXPECT_THROW(store.import(src, "one"), UsageError);
  EXPECT_THROW(store.import(src, "Bad Name"), UsageError);
  EXPECT_EQ(store.list().size(), 1u);
  size_t layers = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_ / "images/layers")) ++layers;
  EXPECT_EQ(layers, 1u);
}

TEST_F(ImageStoreTest, FailedImportLeavesNothing) {
  ImageStore store(root_);
  EXPECT_THROW(store.import(tmp_ / "missing.tar", "x"), UsageError);
  expect_store_empty();

  write_file(tmp_ / "corrupt.tar", std::string(5000, 'z'));
  EXPECT_THROW(store.import(tmp_ / "corrupt.tar", "x"), Error);
  expect_store_empty();

  write_file(tmp_ / "empty.tar", "");
  EXPECT_THROW(store.import(tmp_ / "empty.tar", "x"), Error);
  expect_store_empty();

  // A truncated gzip stream fails midway, after files were written.
  write_tar(tmp_ / "whole.tar.gz", Filter::gzip,
            {{"big", AE_IFREG, 0644, 0, std::string(1 << 20, 'q')}, {"after", AE_IFREG, 0644, 0, "x"}});
  const std::string whole = read(tmp_ / "whole.tar.gz");
  write_file(tmp_ / "cut.tar.gz", whole.substr(0, whole.size() / 2));
  EXPECT_THROW(store.import(tmp_ / "cut.tar.gz", "x"), Error);
  expect_store_empty();
  EXPECT_FALSE(store.exists("x"));
}

TEST_F(ImageStoreTest, ImportRefusesEntriesThatClimbOut) {
  ImageStore store(root_);
  write_tar(tmp_ / "dotdot.tar", Filter::none,
            {{"ok", AE_IFREG, 0644, 0, "ok"}, {"../escaped", AE_IFREG, 0644, 0, "bad"}});
  EXPECT_THROW(store.import(tmp_ / "dotdot.tar", "x"), Error);
  EXPECT_FALSE(fs::exists(root_ / "images/escaped"));
  EXPECT_FALSE(fs::exists(root_ / "images/layers/escaped"));
  expect_store_empty();

  const fs::path outside = tmp_ / "outside";
  fs::create_directory(outside);
  write_tar(tmp_ / "symlink.tar", Filter::none,
            {{"esc", AE_IFLNK, 0777, 0, "", outside.string()}, {"esc/pwned", AE_IFREG, 0644, 0, "bad"}});
  EXPECT_THROW(store.import(tmp_ / "symlink.tar", "x"), Error);
  EXPECT_FALSE(fs::exists(outside / "pwned"));
  expect_store_empty();

  write_file(outside / "secret", "secret");
  write_tar(tmp_ / "hardlink.tar", Filter::none,
            {{"esc", AE_IFLNK, 0777, 0, "", outside.string()}, {"h", AE_IFREG, 0644, 0, "", "esc/secret", true}});
  EXPECT_THROW(store.import(tmp_ / "hardlink.tar", "x"), Error);
  EXPECT_EQ(lstat_of(outside / "secret").st_nlink, 1u);
  expect_store_empty();
}

TEST_F(ImageStoreTest, CommitAddsOneLayerOnTopOfBase) {
  ImageStore store(root_);
  write_file(tmp_ / "base/etc/conf", "v1");
  const ImageInfo base = store.import(tmp_ / "base", "base");
  write_file(tmp_ / "upper/etc/conf", "v2");
  write_file(tmp_ / "upper/new", "new");

  const ImageInfo child = store.commit(base, tmp_ / "upper", "child");
  ASSERT_EQ(child.layers.size(), 2u);
  EXPECT_EQ(child.layers[0], base.layers[0]);
  EXPECT_EQ(read(fs::path(child.layers[1]) / "etc/conf"), "v2");
  EXPECT_EQ(read(fs::path(base.layers[0]) / "etc/conf"), "v1");
  EXPECT_EQ(tree(child.layers[1]), tree(tmp_ / "upper"));

  const ImageInfo grandchild = store.commit(child, tmp_ / "upper", "grandchild");
  ASSERT_EQ(grandchild.layers.size(), 3u);
  EXPECT_EQ(std::vector(grandchild.layers.begin(), grandchild.layers.begin() + 2), child.layers);
  EXPECT_THROW(store.commit(base, tmp_ / "upper", "child"), UsageError);
  EXPECT_THROW(store.commit(base, tmp_ / "no-such-upper", "other"), Error);
  EXPECT_EQ(store.list().size(), 3u);
}

// nrun commit pauses the container in around_copy: it must wrap the copy
// and nothing else, and never run for a commit refused up front.
TEST_F(ImageStoreTest, CommitRunsAroundCopyOnlyAfterTheChecksAndAroundTheCopy) {
  ImageStore store(root_);
  write_file(tmp_ / "base/etc/conf", "v1");
  const ImageInfo base = store.import(tmp_ / "base", "base");
  write_file(tmp_ / "upper/new", "new");
  int calls = 0;
  const ImageStore::AroundCopy counting = [&](const std::function<void()>& copy) {
    ++calls;
    copy();
  };
  EXPECT_THROW(store.commit(base, tmp_ / "upper", "base", counting), UsageError);
  EXPECT_THROW(store.commit(base, tmp_ / "no-such-upper", "other", counting), Error);
  EXPECT_EQ(calls, 0) << "a refused commit never pauses";

  const ImageInfo child = store.commit(base, tmp_ / "upper", "child", [&](const std::function<void()>& copy) {
    ++calls;
    EXPECT_TRUE(store.list().size() == 1u) << "the image appears after the copy, not inside it";
    copy();
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read(fs::path(child.layers.at(1)) / "new"), "new");

  // A failure inside (the pause, or the copy) leaves no image and no layer.
  EXPECT_THROW(store.commit(base, tmp_ / "upper", "failed",
                            [](const std::function<void()>&) { throw Error("cannot pause"); }),
               Error);
  EXPECT_FALSE(store.exists("failed"));
  size_t layers = 0;
  for (const auto& e : fs::directory_iterator(root_ / "images/layers")) {
    ++layers;
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp-")) << e.path();
  }
  EXPECT_EQ(layers, 2u);
}

TEST_F(ImageStoreTest, ExportAppliesWhiteoutsAndImportsBack) {
  ImageStore store(root_);
  const fs::path base_src = tmp_ / "base";
  write_file(base_src / "a/keep", "keep");
  write_file(base_src / "a/gone", "gone");
  write_file(base_src / "d/old", "old");
  write_file(base_src / "x", "linked", 0640);
  fs::create_hard_link(base_src / "x", base_src / "y");
  const ImageInfo base = store.import(base_src, "base");

  // An overlay upper dir: a whiteout, an opaque directory, a new file.
  const fs::path upper = tmp_ / "upper";
  fs::create_directories(upper / "a");
  ASSERT_EQ(::mknod((upper / "a/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  write_file(upper / "d/new", "new");
  ASSERT_EQ(::setxattr((upper / "d").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  write_file(upper / "top", "top");
  const ImageInfo child = store.commit(base, upper, "child");

  // The committed layer keeps the whiteout and the opaque marker for overlay.
  const fs::path top_layer = child.layers.at(1);
  EXPECT_EQ(lstat_of(top_layer / "a/gone").st_rdev, makedev(0, 0));
  char v[4] = {};
  EXPECT_EQ(::getxattr((top_layer / "d").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);

  for (const char* name : {"flat.tar", "flat.tar.gz", "flat.tar.xz"}) {
    SCOPED_TRACE(name);
    const fs::path file = tmp_ / name;
    store.export_tar("child", file);
    EXPECT_FALSE(fs::exists(file.string() + ".tmp." + std::to_string(::getpid())));
    const std::string imported = std::string("flat-") + (std::string(name) == "flat.tar" ? "plain" : name + 9);
    const ImageInfo flat = store.import(file, imported);
    ASSERT_EQ(flat.layers.size(), 1u);
    const fs::path l = flat.layers[0];
    EXPECT_EQ(tree(l), (std::vector<std::string>{"a", "a/keep", "d", "d/new", "top", "x", "y"}));
    EXPECT_EQ(read(l / "a/keep"), "keep");
    EXPECT_EQ(read(l / "top"), "top");
    EXPECT_EQ(::getxattr((l / "d").c_str(), "trusted.overlay.opaque", v, sizeof v), -1);
    EXPECT_EQ(lstat_of(l / "x").st_ino, lstat_of(l / "y").st_ino);
    EXPECT_EQ(lstat_of(l / "x").st_mode & 07777, 0640u);
  }
  EXPECT_THROW(store.export_tar("nope", tmp_ / "nope.tar"), UsageError);
  EXPECT_FALSE(fs::exists(tmp_ / "nope.tar"));
}

TEST_F(ImageStoreTest, RemoveKeepsLayersStillUsed) {
  ImageStore store(root_);
  write_file(tmp_ / "base/f", "f");
  write_file(tmp_ / "upper/g", "g");
  const ImageInfo base = store.import(tmp_ / "base", "base");
  const ImageInfo child = store.commit(base, tmp_ / "upper", "child");

  store.remove("base");
  EXPECT_FALSE(store.exists("base"));
  EXPECT_TRUE(fs::exists(base.layers[0]));  // child still stands on it
  EXPECT_EQ(store.get("child").layers, child.layers);
  EXPECT_THROW(store.remove("base"), UsageError);

  store.remove("child");
  EXPECT_FALSE(fs::exists(child.layers[0]));
  EXPECT_FALSE(fs::exists(child.layers[1]));
  expect_store_empty();
}

TEST_F(ImageStoreTest, ListReportsSizes) {
  ImageStore store(root_);
  EXPECT_TRUE(store.list().empty());  // a fresh root: nothing created
  EXPECT_FALSE(fs::exists(root_ / "images"));
  write_file(tmp_ / "src/data", std::string(1000, 'd'));
  fs::create_hard_link(tmp_ / "src/data", tmp_ / "src/same");
  fs::create_symlink("data", tmp_ / "src/link");
  store.import(tmp_ / "src", "sized");
  write_file(tmp_ / "upper/more", std::string(500, 'm'));
  store.commit(store.get("sized"), tmp_ / "upper", "bigger");

  const auto images = store.list();
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].name, "bigger");
  EXPECT_EQ(images[0].size_bytes, 1500u);
  EXPECT_EQ(images[1].name, "sized");
  EXPECT_EQ(images[1].size_bytes, 1000u);
  EXPECT_EQ(images[1].layers.size(), 1u);
}

TEST_F(ImageStoreTest, UnknownImages) {
  ImageStore store(root_);
  EXPECT_EQ(store.try_get("nope"), std::nullopt);
  EXPECT_THROW(store.get("nope"), UsageError);
  EXPECT_THROW(store.get("Not Valid"), UsageError);
  EXPECT_THROW(store.remove("nope"), UsageError);
  EXPECT_FALSE(store.exists("nope"));
  EXPECT_FALSE(store.exists("busybox"));  // exists() never builds the default image
}

TEST(ImageDefault, AppletsFromTheBinary) {
  const auto applets = busybox_applets(nrun::sys::read_file(kHostBusybox));
  ASSERT_GT(applets.size(), 100u);
  auto dir_of = [&](const std::string& name) -> std::string {
    for (const auto& a : applets)
      if (a.name == name) return a.dir;
    return "<missing>";
  };
  EXPECT_EQ(dir_of("sh"), "bin");
  EXPECT_EQ(dir_of("ls"), "bin");
  EXPECT_EQ(dir_of("env"), "usr/bin");
  EXPECT_EQ(dir_of("ifconfig"), "sbin");
  EXPECT_EQ(dir_of("httpd"), "usr/sbin");
  EXPECT_EQ(dir_of("[["), "usr/bin");

  // Without a name table, the fixed list in bin/.
  const auto fallback = busybox_applets(std::string(4096, 'x'));
  EXPECT_GT(fallback.size(), 20u);
  EXPECT_TRUE(std::all_of(fallback.begin(), fallback.end(), [](const Applet& a) { return a.dir == "bin"; }));
}

TEST_F(ImageStoreTest, DefaultRootfsNeedsAStaticBusybox) {
  fs::create_directory(tmp_ / "a");
  EXPECT_THROW(build_default_rootfs(tmp_ / "a", (tmp_ / "no-busybox").string()), Error);
  fs::create_directory(tmp_ / "b");
  EXPECT_THROW(build_default_rootfs(tmp_ / "b", "/bin/ls"), Error);  // dynamically linked
  write_file(tmp_ / "script", "#!/bin/sh\n", 0755);
  fs::create_directory(tmp_ / "c");
  EXPECT_THROW(build_default_rootfs(tmp_ / "c", (tmp_ / "script").string()), Error);
}

TEST_F(ImageStoreTest, DefaultImageIsBuiltOnFirstUse) {
  ImageStore store(root_);
  const ImageInfo info = store.get(ImageStore::kDefaultImage);
  ASSERT_EQ(info.layers.size(), 1u);
  const fs::path l = info.layers[0];
  const struct stat bb = lstat_of(l / "bin/busybox");
  EXPECT_TRUE(S_ISREG(bb.st_mode));
  EXPECT_EQ(bb.st_mode & 07777, 0755u);
  EXPECT_EQ(fs::read_symlink(l / "bin/sh"), "/bin/busybox");
  EXPECT_EQ(fs::read_symlink(l / "usr/bin/env"), "/bin/busybox");
  EXPECT_EQ(fs::read_symlink(l / "sbin/ifconfig"), "/bin/busybox");
  EXPECT_NE(read(l / "etc/passwd").find("root:x:0:0:"), std::string::npos);
  EXPECT_NE(read(l / "etc/hosts").find("127.0.0.1"), std::string::npos);
  EXPECT_TRUE(fs::exists(l / "etc/group"));
  EXPECT_TRUE(fs::exists(l / "etc/resolv.conf"));
  EXPECT_EQ(lstat_of(l / "tmp").st_mode & 07777, 01777u);
  for (const char* d : {"proc", "sys", "dev", "root", "var", "home", "usr/sbin"})
    EXPECT_TRUE(fs::is_directory(l / d)) << d;

  EXPECT_TRUE(store.exists("busybox"));
  EXPECT_EQ(store.get("busybox").layers, info.layers);  // built once
  EXPECT_EQ(store.list().size(), 1u);
}

TEST_F(ImageStoreTest, DefaultImageRaceBuildsOnce) {
  constexpr int kRacers = 4;
  std::vector<pid_t> pids;
  for (int i = 0; i < kRacers; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 1;
      try {
        rc = ImageStore(root_).get("busybox").layers.size() == 1 ? 0 : 2;
      } catch (...) {
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  size_t layers = 0;
  for (const auto& e : fs::directory_iterator(root_ / "images/layers")) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
    ++layers;
  }
  EXPECT_EQ(layers, 1u);
}

}  // namespace
