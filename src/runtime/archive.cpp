#include "runtime/archive.hpp"

#include <sys/statvfs.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "runtime/archive_disk.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using sys::Error;

namespace archive_disk {

// Everything a rootfs needs kept. FFLAGS is left out on purpose: an
// immutable or append-only flag restored into a layer would make the layer
// impossible to remove and break overlay copy-up. SECURE_NOABSOLUTEPATHS
// cannot be used because entries are given absolute destination paths;
// clean_entry_path() refuses what it would have.
constexpr int kDiskFlags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                           ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                           ARCHIVE_EXTRACT_SECURE_NODOTDOT;

void fail(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  throw Error(what + ": " + (msg ? msg : "libarchive error"));
}

void check_archive(archive* a, int rc, const std::string& what) {
  if (rc >= ARCHIVE_OK) return;
  if (rc == ARCHIVE_WARN) {
    const char* msg = archive_error_string(a);
    log::warn(what + ": " + (msg ? msg : "warning") + ", ignoring");
    return;
  }
  fail(a, what);
}

bool is_overlay_xattr(std::string_view name) {
  return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}
bool is_opaque_xattr(std::string_view name) {
  return name == "trusted.overlay.opaque" || name == "user.overlay.opaque";
}

WriteArchive open_disk_writer() {
  WriteArchive w(archive_write_disk_new());
  if (!w) throw std::bad_alloc();
  // No archive_write_disk_set_standard_lookup(): uid/gid stay numeric.
  check_archive(w.get(), archive_write_disk_set_options(w.get(), kDiskFlags), "set extract options");
  return w;
}

LinkResolver open_link_resolver() {
  LinkResolver links(archive_entry_linkresolver_new());
  if (!links) throw std::bad_alloc();
  archive_entry_linkresolver_set_strategy(links.get(), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  return links;
}

std::string join(const std::string& dest, const std::string& rel) { return rel.empty() ? dest : dest + "/" + rel; }

}  // namespace archive_disk

namespace {
using namespace archive_disk;

// Drops overlay-private xattrs, keeping the opaque marker when asked to.
// Returns whether the entry carried an opaque marker set to "y".
bool filter_overlay_xattrs(archive_entry* e, bool keep_opaque) {
  struct Xattr {
    std::string name;
    std::string value;
  };
  std::vector<Xattr> kept;
  bool opaque = false;
  bool dropped = false;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    std::string v(static_cast<const char*>(value), size);
    if (is_opaque_xattr(name) && v == "y") opaque = true;
    if (is_overlay_xattr(name) && !(keep_opaque && is_opaque_xattr(name))) {
      dropped = true;
      continue;
    }
    kept.push_back({name, std::move(v)});
  }
  if (dropped) {
    archive_entry_xattr_clear(e);
    for (const auto& x : kept) archive_entry_xattr_add_entry(e, x.name.c_str(), x.value.data(), x.value.size());
  }
  return opaque;
}

bool is_whiteout(archive_entry* e) {
  return archive_entry_filetype(e) == AE_IFCHR && archive_entry_rdevmajor(e) == 0 &&
         archive_entry_rdevminor(e) == 0;
}

ReadArchive open_disk_reader(const fs::path& src, int behavior) {
  ReadArchive r(archive_read_disk_new());
  if (!r) throw std::bad_alloc();
  check_archive(r.get(), archive_read_disk_set_symlink_physical(r.get()), "read '" + src.string() + "'");
  // Other filesystems mounted below the tree (a /proc, a bind mount) are
  // not part of it.
  check_archive(r.get(), archive_read_disk_set_behavior(r.get(), behavior | ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS),
                "read '" + src.string() + "'");
  check_archive(r.get(), archive_read_disk_open(r.get(), src.c_str()), "read '" + src.string() + "'");
  return r;
}

// The entry's path relative to the tree root that a disk reader walks.
std::string relative_to(const std::string& root, const char* pathname) {
  std::string_view p = pathname ? pathname : "";
  if (!p.starts_with(root)) throw Error("read '" + root + "': unexpected entry '" + std::string(p) + "'");
  p.remove_prefix(root.size());
  auto rel = clean_entry_path(p);
  if (!rel) throw Error("read '" + root + "': unexpected entry '" + std::string(pathname) + "'");
  return *rel;
}

// Copies the current entry's body from a reader to the disk writer, holes
// and all.
// What an extraction may still write (ExtractLimits::max_bytes, counted down).
struct ByteBudget {
  uint64_t limit;
  uint64_t left;
};

void copy_body_to_disk(archive* in, archive* out, const std::string& what, ByteBudget* budget) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    const int rc = archive_read_data_block(in, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) return;
    check_archive(in, rc, what);
    if (budget) {
      if (size > budget->left)
        throw Error(what + ": the archive unpacks to more than " + std::to_string(budget->limit) +
                    " bytes, more than the store's filesystem can take while keeping a reserve free; refusing");
      budget->left -= size;
    }
    const la_ssize_t w = archive_write_data_block(out, buf, size, offset);
    if (w < ARCHIVE_OK) check_archive(out, static_cast<int>(w), what);
  }
}

// Copies the current entry's body into a tar writer. The reader finds a
// sparse file's holes (SEEK_HOLE) and gives the entry its sparse map, so the
// pax writer records the holes instead of their zeros: the gaps between
// blocks are fed to it as zeros, which it skips, not writes.
void copy_body_to_tar(archive* in, archive* out, const std::string& what) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  la_int64_t written = 0;
  static const char kZeros[4096] = {};
  // False once the entry's size is reached: the file grew while it was
  // read, and the header already promised the old size.
  auto put = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      const la_ssize_t w = archive_write_data(out, c, n);
      if (w < 0) fail(out, what);
      if (w == 0) return false;
      c += w;
      n -= static_cast<size_t>(w);
      written += w;
    }
    return true;
  };
  for (;;) {
    const int rc = archive_read_data_block(in, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) return;
    check_archive(in, rc, what);
    while (written < offset)
      if (!put(kZeros, static_cast<size_t>(std::min<la_int64_t>(offset - written, sizeof kZeros)))) return;
    if (!put(buf, size)) return;
  }
}

void write_disk_entry(archive* in, archive* out, archive_entry* e, const std::string& what,
                      ByteBudget* budget = nullptr) {
  check_archive(out, archive_write_header(out, e), what);
  if (archive_entry_size(e) > 0) copy_body_to_disk(in, out, what, budget);
  check_archive(out, archive_write_finish_entry(out), what);
}

// Every decompressor is compiled into bookworm's libarchive (zlib, bzip2,
// liblzma, zstd). archive_read_support_filter_all() would also register
// filters that run an external program when the library lacks one, and nrun
// runs no programs, so filters are named one by one and a build that would
// fall back to a program is refused.
void support_filters(archive* a) {
  const std::pair<const char*, int (*)(archive*)> filters[] = {
      {"gzip", archive_read_support_filter_gzip}, {"bzip2", archive_read_support_filter_bzip2},
      {"xz", archive_read_support_filter_xz},     {"lzma", archive_read_support_filter_lzma},
      {"zstd", archive_read_support_filter_zstd},
  };
  for (const auto& [name, fn] : filters)
    if (fn(a) != ARCHIVE_OK) throw Error(std::string("libarchive has no built-in ") + name + " support");
}

}  // namespace

std::optional<std::string> clean_entry_path(std::string_view path) {
  std::string out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out.append(part);
  }
  return out;
}

ExtractLimits limits_for_free_space(const fs::path& dest, uint64_t max_bytes) {
  struct statvfs v;
  sys::check(::statvfs(dest.c_str(), &v), "statvfs '" + dest.string() + "'");
  const uint64_t size = uint64_t{v.f_blocks} * v.f_frsize, avail = uint64_t{v.f_bavail} * v.f_frsize;
  const uint64_t reserve = std::min<uint64_t>(size / 20, uint64_t{1} << 30);
  ExtractLimits l;
  l.max_bytes = std::min(max_bytes, avail > reserve ? avail - reserve : 0);
  // Filesystems without inode accounting (btrfs, tmpfs with nr_inodes=0)
  // say 0 files: no entry limit from them.
  if (v.f_files > 0) {
    const uint64_t inode_reserve = std::min<uint64_t>(v.f_files / 20, 100000);
    l.max_entries = v.f_favail > inode_reserve ? v.f_favail - inode_reserve : 0;
  }
  return l;
}

void extract_archive(const fs::path& file, const fs::path& dest, const ExtractLimits& limits) {
  const std::string what = "extract '" + file.string() + "'";
  const std::string root = fs::canonical(dest).string();  // SECURE_SYMLINKS checks every component
  sys::Fd fd = sys::open_path(file, O_RDONLY);             // outlives the reader, which does not close it
  ReadArchive in(archive_read_new());
  if (!in) throw std::bad_alloc();
  support_filters(in.get());
  // Root filesystems come as tarballs (docker export, image export); only the
  // tar reader is linked in, which keeps libarchive's XML and crypto
  // dependencies out of nrun.
  check_archive(in.get(), archive_read_support_format_tar(in.get()), what);
  check_archive(in.get(), archive_read_open_fd(in.get(), fd.get(), 64 * 1024), what);
  WriteArchive out = open_disk_writer();

  size_t entries = 0;
  ByteBudget budget{limits.max_bytes, limits.max_bytes};
  for (;;) {
    archive_entry* e = nullptr;
    const int rc = archive_read_next_header(in.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    check_archive(in.get(), rc, what);
    if (entries >= limits.max_entries)
      throw Error(what + ": the archive holds more than " + std::to_string(limits.max_entries) +
                  " entries, more than the store's filesystem can take; refusing");
    const char* raw_name = archive_entry_pathname(e);
    if (!raw_name) throw Error(what + ": entry with an unreadable name");
    const std::string name = raw_name;  // set_pathname() below frees raw_name
    const auto rel = clean_entry_path(name);
    if (!rel) throw Error(what + ": entry '" + name + "' points outside the image, refusing");
    if (const char* link = archive_entry_hardlink(e)) {
      const auto target = clean_entry_path(link);
      if (!target || target->empty())
        throw Error(what + ": hard link '" + name + "' to '" + link + "' points outside the image, refusing");
      archive_entry_set_hardlink(e, join(root, *target).c_str());
    }
    archive_entry_set_pathname(e, join(root, *rel).c_str());
    write_disk_entry(in.get(), out.get(), e, what + ": '" + name + "'", &budget);
    ++entries;
  }
  // Directory modes and times are applied at close, after their contents.
  check_archive(out.get(), archive_write_close(out.get()), what);
  if (entries == 0) throw Error(what + ": the archive holds no files");
  log::debug("extracted " + std::to_string(entries) + " entries from '" + file.string() + "'");
}

void copy_tree(const fs::path& src, const fs::path& dest) {
  const std::string what = "copy '" + src.string() + "'";
  const std::string src_root = fs::canonical(src).string();
  const std::string dest_root = fs::canonical(dest).string();
  ReadArchive in = open_disk_reader(src_root, 0);
  WriteArchive out = open_disk_writer();
  LinkResolver links = open_link_resolver();

  for (;;) {
    Entry owned(archive_entry_new());
    if (!owned) throw std::bad_alloc();
    const int rc = archive_read_next_header2(in.get(), owned.get());
    if (rc == ARCHIVE_EOF) break;
    check_archive(in.get(), rc, what);
    check_archive(in.get(), archive_read_disk_descend(in.get()), what);
    if (archive_entry_filetype(owned.get()) == AE_IFSOCK) continue;  // a socket is its process's, not the tree's
    const std::string rel = relative_to(src_root, archive_entry_pathname(owned.get()));
    filter_overlay_xattrs(owned.get(), /*keep_opaque=*/true);
    archive_entry_set_pathname(owned.get(), join(dest_root, rel).c_str());

    // The resolver turns the second and later names of a hard-linked file
    // into links to the first; with the tar strategy it hands back the same
    // entry and never a second one.
    archive_entry* e = owned.get();
    archive_entry* spare = nullptr;
    archive_entry_linkify(links.get(), &e, &spare);
    if (e) write_disk_entry(in.get(), out.get(), e, what + ": '" + rel + "'");
  }
  check_archive(out.get(), archive_write_close(out.get()), what);
}

void write_merged_tar(const std::vector<fs::path>& layers, const fs::path& file) {
  const std::string what = "export to '" + file.string() + "'";
  const std::string tmp = file.string() + ".tmp." + std::to_string(::getpid());
  sys::Fd fd = sys::open_path(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  sys::ScopeGuard remove_tmp([&] { ::unlink(tmp.c_str()); });

  {
    WriteArchive out(archive_write_new());
    if (!out) throw std::bad_alloc();
    check_archive(out.get(), archive_write_set_format_pax_restricted(out.get()), what);
    const std::string name = file.filename().string();
    if (name.ends_with(".gz") || name.ends_with(".tgz"))
      check_archive(out.get(), archive_write_add_filter_gzip(out.get()), what);
    else if (name.ends_with(".xz") || name.ends_with(".txz"))
      check_archive(out.get(), archive_write_add_filter_xz(out.get()), what);
    check_archive(out.get(), archive_write_open_fd(out.get(), fd.get()), what);

    LayerMerge merge;
    for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
      const std::string root = fs::canonical(*layer).string();
      const std::string read_what = "export layer '" + root + "'";
      ReadArchive in = open_disk_reader(root, 0);
      // Hard links never cross layers, so each layer gets its own resolver.
      LinkResolver links = open_link_resolver();
      for (;;) {
        Entry owned(archive_entry_new());
        if (!owned) throw std::bad_alloc();
        const int rc = archive_read_next_header2(in.get(), owned.get());
        if (rc == ARCHIVE_EOF) break;
        check_archive(in.get(), rc, read_what);
        archive_entry* e = owned.get();
        const std::string rel = relative_to(root, archive_entry_pathname(e));
        const auto type = archive_entry_filetype(e);
        const bool opaque = filter_overlay_xattrs(e, /*keep_opaque=*/false);
        const auto kind = is_whiteout(e)         ? LayerMerge::Kind::whiteout
                          : type == AE_IFDIR     ? LayerMerge::Kind::directory
                                                 : LayerMerge::Kind::other;
        const auto verdict = rel.empty() ? LayerMerge::Verdict{false, true} : merge.visit(rel, kind, opaque);
        if (verdict.descend) check_archive(in.get(), archive_read_disk_descend(in.get()), read_what);
        if (!verdict.emit || type == AE_IFSOCK) continue;
        archive_entry_set_pathname(e, rel.c_str());
        archive_entry* spare = nullptr;
        archive_entry_linkify(links.get(), &e, &spare);
        if (!e) continue;
        check_archive(out.get(), archive_write_header(out.get(), e), what + ": '" + rel + "'");
        if (archive_entry_size(e) > 0) copy_body_to_tar(in.get(), out.get(), what + ": '" + rel + "'");
      }
      merge.next_layer();
    }
    check_archive(out.get(), archive_write_close(out.get()), what);
  }
  sys::check(::fsync(fd.get()), "fsync '" + tmp + "'");
  fd.reset();
  sys::check(::rename(tmp.c_str(), file.c_str()), "rename '" + tmp + "' to '" + file.string() + "'");
  remove_tmp.dismiss();
}

bool LayerMerge::hidden(const std::string& rel) const {
  if (whiteouts_.count(rel)) return true;
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    const std::string ancestor = rel.substr(0, slash);
    if (whiteouts_.count(ancestor) || cut_.count(ancestor)) return true;
  }
  return false;
}

LayerMerge::Verdict LayerMerge::visit(const std::string& rel, Kind kind, bool opaque) {
  if (hidden(rel)) return {false, false};
  if (!seen_.insert(rel).second) {
    // Shadowed by a higher layer; a directory merges with the higher one
    // unless that one is opaque or not a directory at all.
    return {false, kind == Kind::directory && !cut_.count(rel)};
  }
  if (kind == Kind::whiteout) {
    pending_whiteouts_.push_back(rel);
    return {false, false};
  }
  if (kind == Kind::other || opaque) pending_cut_.push_back(rel);
  return {true, kind == Kind::directory};
}

void LayerMerge::next_layer() {
  for (auto& w : pending_whiteouts_) whiteouts_.insert(std::move(w));
  for (auto& c : pending_cut_) cut_.insert(std::move(c));
  pending_whiteouts_.clear();
  pending_cut_.clear();
}

}  // namespace nrun::runtime
