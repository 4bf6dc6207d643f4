// Resource limits of a container (cgroups). Filled in by the cgroups work.
#pragma once
#include <nlohmann/json.hpp>

namespace nrun::runtime {

struct Resources {
  bool operator==(const Resources&) const = default;
};

inline void to_json(nlohmann::json& j, const Resources&) { j = nlohmann::json::object(); }
inline void from_json(const nlohmann::json&, Resources&) {}

}  // namespace nrun::runtime
