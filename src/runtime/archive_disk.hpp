// libarchive plumbing that archive.cpp and container_copy.cpp share: owners
// of libarchive objects, the error checks, the disk writer nrun extracts
// with, the hard-link resolver, and which xattrs belong to overlayfs.
// Internal to the runtime; archive.hpp is the public face.
#pragma once
#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>
#include <string_view>

#include "runtime/sys/c_free.hpp"

namespace nrun::runtime::archive_disk {

using ReadArchive = std::unique_ptr<archive, sys::CFree<archive_read_free>>;
using WriteArchive = std::unique_ptr<archive, sys::CFree<archive_write_free>>;
using Entry = std::unique_ptr<archive_entry, sys::CFree<archive_entry_free>>;
using LinkResolver = std::unique_ptr<archive_entry_linkresolver, sys::CFree<archive_entry_linkresolver_free>>;

// Throws sys::Error with libarchive's message for `a`.
[[noreturn]] void fail(archive* a, const std::string& what);
// ARCHIVE_WARN (an xattr the filesystem refuses, a time it could not set)
// is logged and ignored; anything worse throws.
void check_archive(archive* a, int rc, const std::string& what);

// The disk writer nrun extracts and copies with: modes, numeric owners,
// times, xattrs and ACLs kept; symlinks and ".." in destination paths
// refused.
WriteArchive open_disk_writer();
// Turns the second and later names of a hard-linked file into links to the
// first (tar strategy: it never holds an entry back).
LinkResolver open_link_resolver();

// dest/rel, or dest itself for the root ("").
std::string join(const std::string& dest, const std::string& rel);

bool is_overlay_xattr(std::string_view name);  // trusted.overlay.* / user.overlay.*
bool is_opaque_xattr(std::string_view name);   // overlay's "opaque directory" marker

}  // namespace nrun::runtime::archive_disk
