// A lab drawn: Graphviz DOT for those who have Graphviz, and a small SVG
// written directly (nodes and networks on a circle) for those who do not.
// Pure: both are strings made from the plan.
#pragma once
#include <string>

#include "lab/plan.hpp"

namespace nrun::lab {

// Nodes as ellipses, networks as boxes, an edge per attachment labelled
// with the interface and its address, an edge per link labelled with both
// ends and the impairment.
std::string lab_dot(const LabPlan& plan);
std::string lab_svg(const LabPlan& plan);

}  // namespace nrun::lab
