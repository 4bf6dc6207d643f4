// Tarballs and layer trees through libarchive: extract a rootfs tarball,
// copy a directory tree, and write the merged view of overlay layers as one
// flat tarball. Owners are kept as numbers (never mapped through the host's
// passwd: the container has its own), and no entry may land outside the
// directory it is extracted into.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace nrun::runtime {

// An archive entry's path made relative and clean: leading "/" and "./"
// dropped, empty and "." components removed. "" is the root itself;
// nullopt when a ".." component would climb out.
std::optional<std::string> clean_entry_path(std::string_view path);

// How much an extraction may write: a decompression bomb (a few MB of gzip
// that unpack to GBs of zeros or millions of files) stops with an error
// instead of filling the store's filesystem.
struct ExtractLimits {
  uint64_t max_bytes = UINT64_MAX;    // file contents written (holes of sparse files not counted)
  uint64_t max_entries = UINT64_MAX;  // files, directories, links
};
// What `dest`'s filesystem can take while keeping a reserve free (5% of
// its space, at most 1 GiB, and of its inodes, at most 100000), lowered to
// `max_bytes` if smaller.
ExtractLimits limits_for_free_space(const std::filesystem::path& dest, uint64_t max_bytes = UINT64_MAX);

// Extracts a tarball (plain, gzip, bzip2, xz or zstd, autodetected) into
// `dest`, an existing directory: modes, owners, times, symlinks, hard links,
// device nodes, ACLs and xattrs kept, sparse files kept sparse. Throws
// sys::Error for a corrupt or empty archive, for an entry that would land
// outside `dest` and past `limits`; what was extracted so far stays for the
// caller to remove.
void extract_archive(const std::filesystem::path& file, const std::filesystem::path& dest,
                     const ExtractLimits& limits = {});

// Copies the tree `src` into the existing directory `dest`, keeping the same
// things as extract_archive. Overlay whiteouts (char 0/0) and opaque markers
// are kept; other overlay-private xattrs (origin, impure, ...) describe the
// mount they came from and are dropped.
void copy_tree(const std::filesystem::path& src, const std::filesystem::path& dest);

// Writes the merged view of overlay `layers` (bottom layer first) to `file`
// as a pax tarball, gzip- or xz-compressed when the name ends in .gz/.tgz or
// .xz/.txz. Whiteouts are applied, not written. `file` appears atomically.
void write_merged_tar(const std::vector<std::filesystem::path>& layers, const std::filesystem::path& file);

// Decides which entries of a stack of overlay layers are visible, visited
// top layer first, each layer in pre-order (a directory before its
// contents). Pure, so the rules are tested without a filesystem:
//   - a path already seen in a higher layer shadows this one;
//   - a whiteout (char device 0/0) named X hides X and all below it;
//   - an opaque directory hides what lower layers hold inside it;
//   - a non-directory X hides lower layers' X/...
class LayerMerge {
 public:
  enum class Kind { directory, whiteout, other };
  struct Verdict {
    bool emit;     // write this entry
    bool descend;  // its contents can still be visible
  };
  Verdict visit(const std::string& rel, Kind kind, bool opaque);
  void next_layer();  // what this layer hid now applies to the ones below

 private:
  bool hidden(const std::string& rel) const;
  std::unordered_set<std::string> seen_, whiteouts_, cut_;  // cut_: opaque dirs and non-dirs
  std::vector<std::string> pending_whiteouts_, pending_cut_;
};

}  // namespace nrun::runtime
