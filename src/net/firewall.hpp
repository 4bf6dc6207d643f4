// The firewall seam: NftFirewall (nft.hpp) speaks nf_tables; NullFirewall
// is the null object, as netavark's fwnone; tests use a recording fake.
#pragma once
#include <string>
#include <vector>

#include "net/nat.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::net {

// A host port that is published already: the user's mistake (exit 125).
struct PortInUseError : sys::UsageError {
  using sys::UsageError::UsageError;
};

class Firewall {
 public:
  virtual ~Firewall() = default;
  // Idempotent: the table, the shared chains and maps, and the network's
  // chains, in one atomic batch.
  virtual void ensure_network(const FwNetwork& n) = 0;
  // Idempotent: removes the network's chains and its bridge from @bridges.
  virtual void remove_network(const FwNetwork& n) = 0;
  // Adds all forwards in one batch, or none: PortInUseError when a host
  // port is published already.
  virtual void add_forwards(const std::vector<Forward>& forwards) = 0;
  // Removes every forward whose owner is `owner` (found by the element's
  // comment, so it works without state); returns how many.
  virtual size_t remove_forwards_of(const std::string& owner) = 0;
  virtual std::vector<Forward> list_forwards() = 0;
};

class NullFirewall : public Firewall {
 public:
  void ensure_network(const FwNetwork&) override {}
  void remove_network(const FwNetwork&) override {}
  void add_forwards(const std::vector<Forward>&) override {}
  size_t remove_forwards_of(const std::string&) override { return 0; }
  std::vector<Forward> list_forwards() override { return {}; }
};

}  // namespace nrun::net
