#include "agent/traffic_baseline.h"

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/atomic_file.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kFormat[] = "polder-traffic-baseline-v1";

json Value(const CounterValue& v) { return json::array({v.packets, v.bytes}); }

CounterValue ValueOf(const json& j) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned()) {
    throw std::runtime_error("a counter value is [packets, bytes]");
  }
  return {j[0].get<uint64_t>(), j[1].get<uint64_t>()};
}

}  // namespace

absl::Status SaveTrafficBaseline(const fs::path& path, const TrafficBaseline& b) {
  json elements = json::array();
  for (const auto& [key, value] : b.elements) {
    elements.push_back(
        json::array({key.first, absl::BytesToHexString(key.second), value.packets, value.bytes}));
  }
  json overflow = json::object();
  for (const auto& [name, value] : b.overflow) overflow[name] = Value(value);
  json hits = json::object();
  for (const auto& [id, value] : b.hits) hits[id] = Value(value);
  json doc = {{"format", kFormat},
              {"epoch", b.epoch},
              {"sequence", b.sequence},
              {"read_at_unix_ns",
               b.read_at == absl::InfinitePast() ? int64_t{0} : absl::ToUnixNanos(b.read_at)},
              {"elements", std::move(elements)},
              {"overflow", std::move(overflow)},
              {"hits", std::move(hits)}};
  return WriteFileAtomically(path, doc.dump(), 0600);
}

absl::StatusOr<TrafficBaseline> LoadTrafficBaseline(const fs::path& path) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(path.string(), ": not a traffic baseline (", why, ")"));
  };
  absl::StatusOr<std::optional<std::string>> text = ReadSmallFile(path, kMaxTrafficBaselineBytes);
  if (!text.ok()) return bad(std::string(text.status().message()));
  if (!text->has_value()) return absl::NotFoundError(absl::StrCat(path.string(), ": none"));
  json doc = json::parse(**text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not JSON");
  try {
    if (doc.value("format", "") != kFormat) return bad("unknown format");
    TrafficBaseline b;
    if (!doc.at("epoch").is_number_unsigned() || !doc.at("sequence").is_number_unsigned()) {
      return bad("epoch and sequence are counts");
    }
    b.epoch = doc.at("epoch").get<uint64_t>();
    b.sequence = doc.at("sequence").get<uint64_t>();
    int64_t ns = doc.at("read_at_unix_ns").get<int64_t>();
    b.read_at = ns == 0 ? absl::InfinitePast() : absl::FromUnixNanos(ns);
    for (const json& e : doc.at("elements")) {
      if (!e.is_array() || e.size() != 4) return bad("an element is [set, key, packets, bytes]");
      std::string hex = e[1].get<std::string>();
      if (hex.size() % 2 != 0 ||
          hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return bad("a key is not hex");
      }
      b.elements[{e[0].get<std::string>(), absl::HexStringToBytes(hex)}] =
          ValueOf(json::array({e[2], e[3]}));
    }
    for (const auto& [name, value] : doc.at("overflow").items()) b.overflow[name] = ValueOf(value);
    for (const auto& [id, value] : doc.at("hits").items()) b.hits[id] = ValueOf(value);
    return b;
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

}  // namespace polder::agent
