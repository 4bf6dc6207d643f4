#include "runtime/image_store.hpp"

#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <memory>
#include <set>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "runtime/archive.hpp"
#include "runtime/container_copy.hpp"
#include "runtime/default_image.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using sys::Error;
using sys::FileLock;
using sys::UsageError;

namespace {

constexpr const char* kTempPrefix = ".tmp-";

// What image.json holds: layer ids rather than paths, so the store can move.
struct Record {
  std::string name;
  std::vector<std::string> layers;
  std::string created;
};

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw sys::SysError(e, "getrandom");
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

bool is_layer_id(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string invalid_name(const std::string& name) {
  return "invalid image name '" + name +
         "': use lowercase letters, digits, '_', '.' and '-', starting with a letter or digit, with an "
         "optional ':tag' of the same, at most 128 characters";
}

void require_valid_name(const std::string& name) {
  if (!ImageStore::is_valid_name(name)) throw UsageError(invalid_name(name));
}

// The paths of one store, and the operations that assume its lock is held.
struct Paths {
  fs::path images;
  fs::path layers() const { return images / "layers"; }
  fs::path layer(const std::string& id) const { return layers() / id; }
  fs::path image_file(const std::string& name) const { return images / name / "image.json"; }

  FileLock lock(FileLock::Mode mode) const {
    if (mode == FileLock::Mode::exclusive && !fs::exists(layers())) {
      fs::create_directories(images);
      // Layers hold other users' setuid binaries and secrets: root only.
      if (::mkdir(layers().c_str(), 0700) != 0 && errno != EEXIST) {
        const int e = errno;
        throw sys::SysError(e, "mkdir '" + layers().string() + "'");
      }
    }
    return FileLock((images / ".lock").string(), mode);
  }

  std::optional<Record> read(const std::string& name) const {
    std::string text;
    try {
      text = sys::read_file(image_file(name));
    } catch (const sys::SysError& e) {
      if (e.err() == ENOENT || e.err() == ENOTDIR) return std::nullopt;
      throw;
    }
    try {
      const auto j = nlohmann::json::parse(text);
      Record r{j.at("name").get<std::string>(), j.at("layers").get<std::vector<std::string>>(),
               j.value("created", std::string())};
      if (r.layers.empty() || !std::all_of(r.layers.begin(), r.layers.end(), is_layer_id))
        throw Error("bad layer list");
      return r;
    } catch (const std::exception&) {
      std::throw_with_nested(Error("corrupt '" + image_file(name).string() + "'"));
    }
  }

  ImageInfo info(const Record& r) const {
    ImageInfo i{r.name, {}, r.created, 0};
    for (const auto& id : r.layers) i.layers.push_back(layer(id).string());
    return i;
  }

  // The names of the directories under images/ that may be images.
  std::vector<std::string> image_dirs() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(images, ec)) {
      const std::string n = d.path().filename().string();
      if (n == "layers" || n.starts_with('.') || !d.is_directory()) continue;
      out.push_back(n);
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw sys::SysError(ec.value(), "read '" + images.string() + "'");
    return out;
  }

  // Moves a layer out of the id namespace first, so a crash halfway through
  // the delete leaves a temp directory for the next sweep, never a
  // half-empty layer.
  void delete_layer(const std::string& id) const {
    const fs::path doomed = layers() / (kTempPrefix + random_hex(8));
    sys::check(::rename(layer(id).c_str(), doomed.c_str()), "rename '" + layer(id).string() + "'");
    fs::remove_all(doomed);
    log::debug("deleted layer " + id);
  }

  // Removes the temp directories of builds that died: a live build holds a
  // flock on its directory. Runs under the exclusive store lock, which also
  // covers the creation of temp directories, so no build is caught between
  // mkdir and flock.
  void sweep_temps() const {
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(layers(), ec)) {
      if (!d.path().filename().string().starts_with(kTempPrefix)) continue;
      const int fd = ::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      sys::Fd owner(fd);
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) continue;  // still being built
      log::debug("removing abandoned '" + d.path().string() + "'");
      std::error_code rm_ec;
      fs::remove_all(d.path(), rm_ec);
      if (rm_ec) log::warn("remove '" + d.path().string() + "': " + rm_ec.message() + ", ignoring");
    }
  }
};

// A layer being built, in layers/.tmp-<random>, flocked while it lives so
// that sweep_temps() tells it from an abandoned one. Removed unless
// committed.
class TempLayer {
 public:
  // The caller holds the exclusive store lock.
  explicit TempLayer(const Paths& p) : path_(p.layers() / (kTempPrefix + random_hex(16))) {
    sys::check(::mkdir(path_.c_str(), 0755), "mkdir '" + path_.string() + "'");
    sys::check(::chmod(path_.c_str(), 0755), "chmod '" + path_.string() + "'");
    fd_ = sys::open_path(path_, O_RDONLY | O_DIRECTORY);
    sys::check(::flock(fd_.get(), LOCK_EX), "lock '" + path_.string() + "'");
  }
  TempLayer(const TempLayer&) = delete;
  TempLayer& operator=(const TempLayer&) = delete;
  ~TempLayer() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) log::warn("remove '" + path_.string() + "': " + ec.message() + ", ignoring");
  }
  const fs::path& path() const { return path_; }
  void commit_to(const fs::path& dest) {
    sys::check(::rename(path_.c_str(), dest.c_str()), "rename '" + path_.string() + "' to '" + dest.string() + "'");
    path_.clear();
  }

 private:
  fs::path path_;
  sys::Fd fd_;
};

std::unique_ptr<TempLayer> start_layer(const Paths& p) {
  FileLock lock = p.lock(FileLock::Mode::exclusive);
  p.sweep_temps();
  return std::make_unique<TempLayer>(p);
}

// Turns a built layer into a new image on top of `base` layers. The caller
// holds the exclusive store lock; the layer and image.json appear together
// or not at all.
Record finish_image(const Paths& p, const std::string& name, TempLayer& temp, std::vector<std::string> base) {
  if (p.read(name)) throw UsageError("image '" + name + "' already exists");
  for (const auto& id : base)
    if (!fs::exists(p.layer(id))) throw Error("layer " + id + " of the base image is gone; was the image removed?");
  const std::string id = random_hex(32);
  temp.commit_to(p.layer(id));
  sys::ScopeGuard undo([&] {
    fs::remove_all(p.layer(id));
    std::error_code ec;
    fs::remove(p.images / name, ec);  // only if empty
  });
  base.push_back(id);
  Record r{name, std::move(base), now_utc()};
  fs::create_directories(p.images / name);
  const nlohmann::json j = {{"name", r.name}, {"layers", r.layers}, {"created", r.created}};
  sys::write_file_atomic(p.image_file(name).string(), j.dump(2) + "\n");
  undo.dismiss();
  log::debug("image '" + name + "' created with layer " + id);
  return r;
}

// Apparent size of a layer's regular files, each hard-linked file once.
uint64_t layer_size(const fs::path& dir) {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.emplace(st.st_dev, st.st_ino).second) continue;
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

}  // namespace

ImageStore::ImageStore(fs::path root) : images_dir_(std::move(root) / "images") {}

bool ImageStore::is_valid_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  auto part_ok = [](std::string_view p) {
    if (p.empty() || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9'))) return false;
    return std::all_of(p.begin(), p.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
  };
  const size_t colon = name.find(':');
  const std::string_view repo = std::string_view(name).substr(0, colon);
  if (!part_ok(repo)) return false;
  if (colon != std::string::npos && !part_ok(std::string_view(name).substr(colon + 1))) return false;
  return name != "layers";  // images/layers holds the layers themselves
}

bool ImageStore::exists(const std::string& name) const {
  if (!is_valid_name(name)) return false;
  std::error_code ec;
  return fs::exists(Paths{images_dir_}.image_file(name), ec);
}

std::optional<ImageInfo> ImageStore::try_get(const std::string& name) {
  require_valid_name(name);
  const Paths p{images_dir_};
  if (fs::exists(images_dir_)) {
    FileLock lock = p.lock(FileLock::Mode::shared);
    if (auto r = p.read(name)) return p.info(*r);
  }
  if (name != kDefaultImage) return std::nullopt;

  // First use of the default image. Built under the exclusive lock, so two
  // `nrun run`s at once build it once; the second finds it done.
  FileLock lock = p.lock(FileLock::Mode::exclusive);
  if (auto r = p.read(name)) return p.info(*r);
  p.sweep_temps();
  TempLayer temp(p);
  try {
    build_default_rootfs(temp.path());
  } catch (...) {
    std::throw_with_nested(Error("create the default image '" + name + "'"));
  }
  return p.info(finish_image(p, name, temp, {}));
}

ImageInfo ImageStore::get(const std::string& name) {
  if (auto info = try_get(name)) return *info;
  throw UsageError("unknown image '" + name + "'");
}

ImageInfo ImageStore::import(const fs::path& source, const std::string& name, uint64_t max_bytes) {
  require_valid_name(name);
  if (exists(name)) throw UsageError("image '" + name + "' already exists");
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT) throw UsageError("import: no such file or directory '" + source.string() + "'");
    throw sys::SysError(e, "stat '" + source.string() + "'");
  }

  const Paths p{images_dir_};
  // The tree is built without the store lock, so a long import does not
  // hold up every `nrun run`; only the final rename takes it.
  auto temp = start_layer(p);
  if (S_ISDIR(st.st_mode))
    copy_tree(source, temp->path());
  else
    extract_archive(source, temp->path(), limits_for_free_space(temp->path(), max_bytes));

  FileLock lock = p.lock(FileLock::Mode::exclusive);
  return p.info(finish_image(p, name, *temp, {}));
}

ImageInfo ImageStore::commit(const ImageInfo& base, const fs::path& upper, const std::string& name,
                             const AroundCopy& around_copy) {
  require_valid_name(name);
  if (exists(name)) throw UsageError("image '" + name + "' already exists");
  const Paths p{images_dir_};
  std::vector<std::string> base_ids;
  for (const auto& dir : base.layers) {
    const fs::path layer(dir);
    if (layer.parent_path().lexically_normal() != p.layers().lexically_normal() ||
        !is_layer_id(layer.filename().string()))
      throw Error("layer '" + dir + "' of image '" + base.name + "' is not in this store");
    base_ids.push_back(layer.filename().string());
  }
  if (!fs::is_directory(upper)) throw Error("commit: no upper layer at '" + upper.string() + "'");

  auto temp = start_layer(p);
  // Whiteouts and opaque markers kept.
  const auto copy = [&] { copy_container_tree(upper, temp->path()); };
  if (around_copy)
    around_copy(copy);
  else
    copy();
  FileLock lock = p.lock(FileLock::Mode::exclusive);
  return p.info(finish_image(p, name, *temp, std::move(base_ids)));
}

void ImageStore::export_tar(const std::string& name, const fs::path& file) {
  get(name);  // creates the default image on first use
  const Paths p{images_dir_};
  // Shared: a concurrent remove must not delete layers while they are read.
  FileLock lock = p.lock(FileLock::Mode::shared);
  const auto r = p.read(name);
  if (!r) throw UsageError("unknown image '" + name + "'");
  std::vector<fs::path> layers;
  for (const auto& id : r->layers) layers.push_back(p.layer(id));
  write_merged_tar(layers, file);
}

std::vector<ImageInfo> ImageStore::list() const {
  const Paths p{images_dir_};
  std::vector<ImageInfo> out;
  if (!fs::exists(images_dir_)) return out;
  FileLock lock = p.lock(FileLock::Mode::shared);
  for (const auto& n : p.image_dirs()) {
    std::optional<Record> r;
    try {
      r = p.read(n);
    } catch (const std::exception& e) {
      log::warn(sys::describe(e) + ", ignoring");
    }
    if (!r) continue;
    ImageInfo info = p.info(*r);
    for (const auto& layer : info.layers) info.size_bytes += layer_size(layer);
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const ImageInfo& a, const ImageInfo& b) { return a.name < b.name; });
  return out;
}

void ImageStore::remove(const std::string& name) {
  require_valid_name(name);
  const Paths p{images_dir_};
  if (!fs::exists(images_dir_)) throw UsageError("unknown image '" + name + "'");
  FileLock lock = p.lock(FileLock::Mode::exclusive);
  const auto r = p.read(name);
  if (!r) throw UsageError("unknown image '" + name + "'");

  // Layer reference counts come from scanning the other images. If one of
  // them cannot be read, its layers are unknown and nothing is deleted.
  std::unordered_set<std::string> used;
  bool complete = true;
  for (const auto& other : p.image_dirs()) {
    if (other == name) continue;
    try {
      if (auto o = p.read(other)) used.insert(o->layers.begin(), o->layers.end());
    } catch (const std::exception& e) {
      complete = false;
      log::warn(sys::describe(e) + ": keeping all layers");
    }
  }

  sys::check(::unlink(p.image_file(name).c_str()), "unlink '" + p.image_file(name).string() + "'");
  std::error_code ec;
  fs::remove(p.images / name, ec);  // leaves a directory someone put more in
  log::debug("image '" + name + "' removed");
  if (!complete) return;

  // Besides this image's layers, any layer no image names is an orphan: a
  // layer and its image.json are only ever made together under this lock,
  // so one without the other was left by a crash.
  std::vector<std::string> candidates;
  for (const auto& d : fs::directory_iterator(p.layers())) {
    const std::string id = d.path().filename().string();
    if (is_layer_id(id) && !used.count(id)) candidates.push_back(id);
  }
  for (const auto& id : candidates) p.delete_layer(id);
  p.sweep_temps();
}

}  // namespace nrun::runtime
