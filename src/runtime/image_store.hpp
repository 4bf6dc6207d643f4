// Images: named, ordered stacks of read-only layer directories under
// ROOT/images. Layers are shared between images (commit adds one layer on
// top of its base's layers, it copies nothing of the base).
//
//   ROOT/images/<name>/image.json    {"name", "layers": [layer ids, bottom first], "created"}
//   ROOT/images/layers/<layer-id>/   the layer's files (overlay whiteouts kept)
//   ROOT/images/.lock                flock held while the store changes
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nrun::runtime {

struct ImageInfo {
  std::string name;
  std::vector<std::string> layers;  // absolute layer directories, bottom layer first
  std::string created;              // RFC 3339 UTC
  uint64_t size_bytes = 0;          // filled by list() only
};

class ImageStore {
 public:
  static constexpr const char* kDefaultImage = "busybox";

  explicit ImageStore(std::filesystem::path root);  // nrun's root; images live in root/images

  // Image names: [a-z0-9][a-z0-9_.-]* with an optional ":tag" of the same
  // characters, at most 128 in all.
  static bool is_valid_name(const std::string& name);

  // The image by name. The default image is created on first use from the
  // host's busybox-static binary; any other unknown name gives nullopt.
  std::optional<ImageInfo> try_get(const std::string& name);
  // Like try_get, but throws UsageError("unknown image 'NAME'").
  ImageInfo get(const std::string& name);
  bool exists(const std::string& name) const;  // never creates the default image

  // Imports a rootfs tarball (plain, gzip or xz; modes, owners, symlinks,
  // hard links, device nodes and xattrs kept) or a directory (copied).
  // Refuses a name already taken; nothing is left behind on failure.
  // A tarball's contents may take at most `max_bytes`, and never so much
  // that the store's filesystem would run out of space or inodes (see
  // ExtractLimits in archive.hpp).
  ImageInfo import(const std::filesystem::path& source, const std::string& name, uint64_t max_bytes = UINT64_MAX);
  // Runs the copy it is handed, so that a caller can set something up around
  // exactly the copy (nrun commit pauses the container).
  using AroundCopy = std::function<void(const std::function<void()>& copy)>;
  // A new image whose layers are base's plus a copy of `upper`, a
  // container's upper directory (whiteouts kept), read with
  // copy_container_tree, so never through a symlink out of it.
  // `around_copy` is called only once the name is known to be free and the
  // base's layers are in this store: a commit refused up front never pauses
  // anything. By default the copy just runs.
  ImageInfo commit(const ImageInfo& base, const std::filesystem::path& upper, const std::string& name,
                   const AroundCopy& around_copy = {});
  // Writes a flat tarball of the image (layers merged, whiteouts applied)
  // that import() reads back.
  void export_tar(const std::string& name, const std::filesystem::path& file);

  std::vector<ImageInfo> list() const;
  // Removes the image and the layers no other image uses. The caller checks
  // that no container uses it.
  void remove(const std::string& name);

 private:
  std::filesystem::path images_dir_;
};

}  // namespace nrun::runtime
