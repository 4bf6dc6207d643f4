// The container name index: ROOT/containers/.names/<name>, a symlink whose
// target is the id of the container holding the name. It makes "is this
// name free?" and "which id has this name?" one syscall each, where reading
// every record made each `run` (and each node of a lab) cost O(containers).
//
// Claims and releases happen under the store lock (containers/.lock), so a
// check and the claim that follows are one step; lookups need no lock
// (readlink sees the old link or the new one, never a mix). symlink(2)
// fails with EEXIST when the name exists, so even a caller that forgot the
// lock could not take a name twice.
//
// The index is a cache of the records' names, never the truth: an entry
// whose record is gone (a crash between the two) is stale and replaced by
// the next claim, and a root made by an nrun without the index gets one
// built from its records on first use.
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nrun::runtime {

class NameIndex {
 public:
  using RecordExists = std::function<bool(const std::string& id)>;

  explicit NameIndex(std::filesystem::path dir);  // ROOT/containers/.names

  // True once the index exists (built, or made empty by the first claim).
  bool ready() const;
  // Builds the index from (name, id) pairs: written beside it and renamed
  // into place, so a reader sees all of it or none. Caller holds the lock.
  void build(const std::vector<std::pair<std::string, std::string>>& names) const;

  // Takes `name` for `id`. False when a record that exists (per `exists`)
  // holds it; an entry whose record is gone is replaced. Caller holds the
  // lock.
  bool claim(const std::string& name, const std::string& id, const RecordExists& exists) const;
  // The id the entry names, if there is one (it may be stale: check the
  // record).
  std::optional<std::string> lookup(const std::string& name) const;
  // Removes the entry if it still names `id` (a newer holder keeps it).
  // Caller holds the lock.
  void release(const std::string& name, const std::string& id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace nrun::runtime
