#include "wire/traffic_report.h"

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "wire/rfc3339.h"

namespace polder::wire {
namespace {

using Json = nlohmann::ordered_json;

bool OneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (v == a) return true;
  }
  return false;
}

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("traffic report: ", field, ": ", why));
}

absl::StatusOr<std::string> String(const Json& o, const char* key, absl::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string())
    return Bad(absl::StrCat(where, key), "missing or not a string");
  return it->get<std::string>();
}

absl::StatusOr<uint64_t> Unsigned(const Json& o, const char* key, absl::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_unsigned()) {
    return Bad(absl::StrCat(where, key), "missing or not a non-negative integer");
  }
  return it->get<uint64_t>();
}

// What wire/counter_id.h spells: a set or counter name, '/', and a name or hex digits.
bool IsCounterId(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  size_t slash = id.find('/');
  if (slash == 0 || slash == std::string::npos || slash + 1 == id.size()) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || (c == '/' && i == slash);
    if (!ok) return false;
  }
  return true;
}

absl::Status OnlyKeys(const Json& o, std::initializer_list<const char*> keys,
                      absl::string_view where) {
  std::set<std::string> known(keys.begin(), keys.end());
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (known.count(it.key()) == 0) return Bad(absl::StrCat(where, it.key()), "unknown field");
  }
  return absl::OkStatus();
}

}  // namespace

std::string TrafficReportToJsonLine(const TrafficReport& r) {
  Json samples = Json::array();
  for (const TrafficReportSample& s : r.samples) {
    samples.push_back({{"direction", s.direction},
                       {"local", s.local},
                       {"peer", s.peer},
                       {"protocol", s.protocol},
                       {"port", s.port},
                       {"verdict", s.verdict},
                       {"connections", s.connections},
                       {"bytes", s.bytes}});
  }
  Json j = {{"host", r.host},
            {"epoch", r.epoch},
            {"sequence", r.sequence},
            {"start", FormatRfc3339(r.start)},
            {"end", FormatRfc3339(r.end)},
            {"lost", r.lost},
            {"samples", std::move(samples)}};
  if (!r.hits.empty()) {
    Json hits = Json::array();
    for (const TrafficHit& h : r.hits) {
      hits.push_back({{"counter", h.counter}, {"packets", h.packets}, {"bytes", h.bytes}});
    }
    j["hits"] = std::move(hits);
  }
  return j.dump();
}

absl::StatusOr<TrafficReport> ParseTrafficReportLine(absl::string_view line) {
  if (line.size() > kMaxTrafficReportLine) return Bad("line", "longer than 32 MiB");
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("line", "not a JSON object");
  if (absl::Status s =
          OnlyKeys(j, {"host", "epoch", "sequence", "start", "end", "lost", "samples", "hits"}, "");
      !s.ok()) {
    return s;
  }
  TrafficReport r;
  absl::StatusOr<std::string> host = String(j, "host", "");
  if (!host.ok()) return host.status();
  if (host->empty() || host->size() > 253) return Bad("host", "empty or longer than 253 bytes");
  r.host = *host;
  for (auto [key, out] :
       {std::pair{"epoch", &r.epoch}, {"sequence", &r.sequence}, {"lost", &r.lost}}) {
    absl::StatusOr<uint64_t> v = Unsigned(j, key, "");
    if (!v.ok()) return v.status();
    *out = *v;
  }
  for (auto [key, out] : {std::pair{"start", &r.start}, {"end", &r.end}}) {
    absl::StatusOr<std::string> text = String(j, key, "");
    if (!text.ok()) return text.status();
    std::optional<absl::Time> t = ParseRfc3339(*text);
    if (!t) return Bad(key, "not an RFC 3339 time");
    *out = *t;
  }
  if (r.end < r.start) return Bad("end", "before start");
  auto samples = j.find("samples");
  if (samples == j.end() || !samples->is_array()) return Bad("samples", "missing or not a list");
  if (samples->size() > kMaxTrafficSamplesPerReport) return Bad("samples", "more than 100000");
  for (size_t i = 0; i < samples->size(); ++i) {
    const Json& o = (*samples)[i];
    std::string where = absl::StrCat("samples[", i, "].");
    if (!o.is_object()) return Bad(where, "not an object");
    if (absl::Status s = OnlyKeys(
            o,
            {"direction", "local", "peer", "protocol", "port", "verdict", "connections", "bytes"},
            where);
        !s.ok()) {
      return s;
    }
    TrafficReportSample s;
    for (auto [key, out] : {std::pair{"direction", &s.direction},
                            {"local", &s.local},
                            {"peer", &s.peer},
                            {"protocol", &s.protocol},
                            {"verdict", &s.verdict}}) {
      absl::StatusOr<std::string> v = String(o, key, where);
      if (!v.ok()) return v.status();
      *out = *v;
    }
    if (!OneOf(s.direction, {"in", "out"})) return Bad(where + "direction", "not in or out");
    if (!OneOf(s.protocol, {"tcp", "udp", "sctp", "icmp", "icmpv6"})) {
      return Bad(where + "protocol", "not tcp, udp, sctp, icmp or icmpv6");
    }
    if (!OneOf(s.verdict, {"allowed", "denied", "would-deny"})) {
      return Bad(where + "verdict", "not allowed, denied or would-deny");
    }
    absl::StatusOr<uint64_t> port = Unsigned(o, "port", where);
    if (!port.ok()) return port.status();
    bool icmp = s.protocol == "icmp" || s.protocol == "icmpv6";
    if (*port > (icmp ? 255u : 65535u) || (!icmp && *port == 0)) {
      return Bad(where + "port", icmp ? "not an ICMP type 0-255" : "not a port 1-65535");
    }
    s.port = static_cast<uint32_t>(*port);
    for (auto [key, out] : {std::pair{"connections", &s.connections}, {"bytes", &s.bytes}}) {
      absl::StatusOr<uint64_t> v = Unsigned(o, key, where);
      if (!v.ok()) return v.status();
      *out = *v;
    }
    r.samples.push_back(std::move(s));
  }
  if (auto hits = j.find("hits"); hits != j.end()) {
    if (!hits->is_array()) return Bad("hits", "not a list");
    if (hits->size() > kMaxTrafficHitsPerReport) return Bad("hits", "more than 200000");
    std::set<std::string> seen;
    for (size_t i = 0; i < hits->size(); ++i) {
      const Json& o = (*hits)[i];
      std::string where = absl::StrCat("hits[", i, "].");
      if (!o.is_object()) return Bad(where, "not an object");
      if (absl::Status s = OnlyKeys(o, {"counter", "packets", "bytes"}, where); !s.ok()) return s;
      TrafficHit h;
      absl::StatusOr<std::string> counter = String(o, "counter", where);
      if (!counter.ok()) return counter.status();
      if (!IsCounterId(*counter)) {
        return Bad(where + "counter",
                   "not a counter id (SET/HEX or counter/NAME, at most 256 bytes)");
      }
      if (!seen.insert(*counter).second) return Bad(where + "counter", "given twice");
      h.counter = *counter;
      for (auto [key, out] : {std::pair{"packets", &h.packets}, {"bytes", &h.bytes}}) {
        absl::StatusOr<uint64_t> v = Unsigned(o, key, where);
        if (!v.ok()) return v.status();
        *out = *v;
      }
      r.hits.push_back(std::move(h));
    }
  }
  return r;
}

}  // namespace polder::wire
