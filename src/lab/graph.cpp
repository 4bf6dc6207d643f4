#include "lab/graph.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

namespace nrun::lab {

namespace {
// A DOT string; a newline becomes DOT's own "\n" line break.
std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string end_label(const PlannedEnd& e) { return e.ifname + (e.address ? " " + e.address->str() : ""); }

// What each edge says, shared by both formats.
struct Edge {
  std::string from, to, label;
};

std::vector<Edge> edges_of(const LabPlan& plan) {
  std::vector<Edge> out;
  for (const auto& n : plan.nodes)
    for (const auto& i : n.interfaces)
      if (!i.network.empty())
        out.push_back({n.name, "net:" + i.network, i.ifname + (i.address ? " " + i.address->str() : "")});
  for (const auto& l : plan.links) {
    std::string label = end_label(l.a) + " -- " + end_label(l.b);
    if (!l.netem.empty()) label += "\n" + l.netem.str();
    out.push_back({l.a.node, l.b.node, label});
  }
  return out;
}
}  // namespace

std::string lab_dot(const LabPlan& plan) {
  std::string s = "graph " + dot_quote(plan.lab) + " {\n";
  s += "  label=" + dot_quote("lab " + plan.lab) + ";\n  fontname=\"Helvetica\";\n";
  s += "  node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (const auto& n : plan.networks)
    s += "  " + dot_quote("net:" + n.lab_name) + " [shape=box, style=rounded, label=" +
         dot_quote(n.lab_name + "\n" + (n.request.subnet ? n.request.subnet->str() : "") +
                   (n.request.internal ? " (internal)" : "")) +
         "];\n";
  for (const auto& n : plan.nodes)
    s += "  " + dot_quote(n.name) + " [shape=ellipse, label=" + dot_quote(n.name + "\n" + n.spec.image) + "];\n";
  for (const auto& e : edges_of(plan))
    s += "  " + dot_quote(e.from) + " -- " + dot_quote(e.to) + " [label=" + dot_quote(e.label) + "];\n";
  return s + "}\n";
}

std::string lab_svg(const LabPlan& plan) {
  // Every vertex on one circle, in file order: networks then nodes. Crude,
  // but it needs no layout engine and every edge and label stays visible
  // for the small labs people draw.
  std::vector<std::pair<std::string, bool>> vertices;  // id, is a network
  for (const auto& n : plan.networks) vertices.push_back({"net:" + n.lab_name, true});
  for (const auto& n : plan.nodes) vertices.push_back({n.name, false});
  const double count = static_cast<double>(vertices.size());
  const double radius = std::max(140.0, 60.0 * count);
  const double size = 2 * radius + 320;
  std::map<std::string, std::pair<double, double>> at;
  for (size_t i = 0; i < vertices.size(); ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i) / count - M_PI / 2;
    at[vertices[i].first] = {size / 2 + radius * std::cos(angle), size / 2 + radius * std::sin(angle)};
  }
  char buf[512];
  std::string s;
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "font-family=\"Helvetica, sans-serif\" font-size=\"12\">\n",
                size, size);
  s += buf;
  s += "<title>lab " + xml_escape(plan.lab) + "</title>\n";
  for (const auto& e : edges_of(plan)) {
    const auto [x1, y1] = at[e.from];
    const auto [x2, y2] = at[e.to];
    std::snprintf(buf, sizeof buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", x1, y1,
                  x2, y2);
    s += buf;
    double y = (y1 + y2) / 2 - 4;
    size_t start = 0;
    for (;;) {
      const size_t nl = e.label.find('\n', start);
      std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">", (x1 + x2) / 2,
                    y);
      s += buf + xml_escape(e.label.substr(start, nl == std::string::npos ? std::string::npos : nl - start)) +
           "</text>\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
      y += 14;
    }
  }
  for (const auto& n : plan.networks) {
    const auto [x, y] = at["net:" + n.lab_name];
    std::snprintf(
        buf, sizeof buf,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"130\" height=\"40\" rx=\"8\" fill=\"#e8f0fe\" stroke=\"#1a5fb4\"/>\n",
        x - 65, y - 20);
    s += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y - 3);
    s += buf + xml_escape(n.lab_name) + "</text>\n";
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">", x, y + 12);
    s += buf + xml_escape(n.request.subnet ? n.request.subnet->str() : "") + "</text>\n";
  }
  for (const auto& n : plan.nodes) {
    const auto [x, y] = at[n.name];
    std::snprintf(buf, sizeof buf,
                  "<ellipse cx=\"%.1f\" cy=\"%.1f\" rx=\"48\" ry=\"22\" fill=\"#fff4e0\" stroke=\"#b5651d\"/>\n", x, y);
    s += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y + 4);
    s += buf + xml_escape(n.name) + "</text>\n";
  }
  return s + "</svg>\n";
}

}  // namespace nrun::lab
