#include "agent/traffic_collector.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "wire/counter_id.h"

namespace polder::agent {
namespace {

std::string AddressText(const std::string& key, size_t at, bool ipv6) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, key.data() + at, text, sizeof(text));
  return text;
}

const char* ProtocolName(uint8_t p) {
  switch (p) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 132:
      return "sctp";
    default:
      return nullptr;
  }
}

// What grew from `before` to `now`; a counter that went down started again from zero.
CounterValue Delta(const CounterValue& before, const CounterValue& now) {
  if (now.packets < before.packets || now.bytes < before.bytes) return now;
  return CounterValue{now.packets - before.packets, now.bytes - before.bytes};
}

}  // namespace

std::vector<ObservationSource> ObservationSourcesFromSetNames(
    const std::vector<std::string>& names) {
  std::vector<ObservationSource> out;
  for (const std::string& name : names) {
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, "seen_")) continue;
    ObservationSource s;
    if (absl::ConsumePrefix(&rest, "in")) {
      s.inbound = true;
    } else if (absl::ConsumePrefix(&rest, "out")) {
      s.inbound = false;
    } else {
      continue;
    }
    if (absl::ConsumePrefix(&rest, "4")) {
      s.ipv6 = false;
    } else if (absl::ConsumePrefix(&rest, "6")) {
      s.ipv6 = true;
    } else {
      continue;
    }
    s.icmp = absl::ConsumePrefix(&rest, "_icmp");
    if (rest == "_allowed") {
      s.verdict = "allowed";
    } else if (rest == "_denied") {
      s.verdict = "denied";
    } else if (rest == "_would_deny") {
      s.verdict = "would-deny";
    } else {
      continue;
    }
    s.set = name;
    s.overflow_counter = name + "_overflow";
    out.push_back(std::move(s));
  }
  return out;
}

HitSources HitSourcesFromNames(const std::vector<std::string>& sets,
                               const std::vector<std::string>& counters) {
  HitSources out;
  for (const std::string& s : sets) {
    if (!absl::StartsWith(s, "seen_")) out.sets.push_back(s);
  }
  for (const std::string& c : counters) {
    if (!absl::StartsWith(c, "seen_")) out.counters.push_back(c);
  }
  return out;
}

bool DecodeObservationKey(const ObservationSource& source, const std::string& key,
                          wire::TrafficReportSample& sample) {
  // Each part of a concatenated key is padded to 4 bytes.
  size_t addr = source.ipv6 ? 16 : 4;
  if (key.size() != 2 * addr + (source.icmp ? 4 : 8)) return false;
  std::string saddr = AddressText(key, 0, source.ipv6);
  std::string daddr = AddressText(key, addr, source.ipv6);
  sample.local = source.inbound ? daddr : saddr;
  sample.peer = source.inbound ? saddr : daddr;
  const auto* tail = reinterpret_cast<const uint8_t*>(key.data() + 2 * addr);
  if (source.icmp) {
    sample.protocol = source.ipv6 ? "icmpv6" : "icmp";
    sample.port = tail[0];
    return true;
  }
  const char* proto = ProtocolName(tail[0]);
  if (proto == nullptr) return false;
  sample.protocol = proto;
  sample.port = static_cast<uint32_t>(tail[4]) << 8 | tail[5];
  return sample.port != 0;
}

TrafficCollector::TrafficCollector(std::string host, std::vector<ObservationSource> sources,
                                   CounterSource& counters, Clock& clock, uint64_t epoch)
    : host_(std::move(host)),
      sources_(std::move(sources)),
      counters_(counters),
      clock_(clock),
      epoch_(epoch) {}

absl::StatusOr<TrafficCollector::Result> TrafficCollector::Collect() {
  Result result;
  wire::TrafficReport& r = result.report;
  absl::Time now = clock_.Now();
  r.host = host_;
  r.epoch = epoch_;
  r.start = last_ == absl::InfinitePast() ? now : last_;
  r.end = now;
  std::map<std::pair<std::string, std::string>, CounterValue> current;
  std::map<std::string, CounterValue> current_overflow;
  for (const ObservationSource& source : sources_) {
    absl::StatusOr<std::vector<CountedElement>> elements = counters_.ReadSet(source.set);
    if (absl::IsNotFound(elements.status())) {
      result.missing.push_back(source.set);
      continue;
    }
    if (!elements.ok()) return elements.status();
    for (const CountedElement& e : *elements) {
      if (!e.has_counter) continue;
      auto key = std::make_pair(source.set, e.key);
      current[key] = e.counter;
      auto before = previous_.find(key);
      CounterValue d = before == previous_.end() ? e.counter : Delta(before->second, e.counter);
      if (d.packets == 0) continue;
      wire::TrafficReportSample sample;
      if (!DecodeObservationKey(source, e.key, sample)) {
        ++result.undecodable;
        continue;
      }
      sample.direction = source.inbound ? "in" : "out";
      sample.verdict = source.verdict;
      sample.connections = d.packets;
      sample.bytes = d.bytes;
      r.samples.push_back(std::move(sample));
    }
    if (source.overflow_counter.empty()) continue;
    absl::StatusOr<CounterValue> overflow = counters_.ReadCounter(source.overflow_counter);
    if (absl::IsNotFound(overflow.status())) {
      result.missing.push_back(source.overflow_counter);
      continue;
    }
    if (!overflow.ok()) return overflow.status();
    current_overflow[source.overflow_counter] = *overflow;
    auto before = previous_overflow_.find(source.overflow_counter);
    r.lost +=
        (before == previous_overflow_.end() ? *overflow : Delta(before->second, *overflow)).packets;
  }
  std::map<std::string, CounterValue> current_hits;
  auto hit = [&](std::string id, const CounterValue& value) {
    auto before = previous_hits_.find(id);
    CounterValue d = before == previous_hits_.end() ? value : Delta(before->second, value);
    current_hits[id] = value;
    if (d.packets == 0 && d.bytes == 0) return;
    r.hits.push_back({std::move(id), d.packets, d.bytes});
  };
  for (const std::string& set : hit_sources_.sets) {
    absl::StatusOr<std::vector<CountedElement>> elements = counters_.ReadSet(set);
    if (absl::IsNotFound(elements.status())) {
      result.missing.push_back(set);
      continue;
    }
    if (!elements.ok()) return elements.status();
    for (const CountedElement& e : *elements) {
      if (!e.has_counter || e.interval_end) continue;
      hit(wire::KernelElementCounterId(set, e.key), e.counter);
    }
  }
  for (const std::string& name : hit_sources_.counters) {
    absl::StatusOr<CounterValue> value = counters_.ReadCounter(name);
    if (absl::IsNotFound(value.status())) {
      result.missing.push_back(name);
      continue;
    }
    if (!value.ok()) return value.status();
    hit(wire::NamedCounterId(name), *value);
  }
  // Only a complete read replaces the baseline: an error above returns before this, and the
  // next Collect() reports the whole interval.
  previous_hits_ = std::move(current_hits);
  previous_ = std::move(current);
  previous_overflow_ = std::move(current_overflow);
  last_ = now;
  r.sequence = ++sequence_;
  return result;
}

TrafficBaseline TrafficCollector::baseline() const {
  TrafficBaseline b;
  b.epoch = epoch_;
  b.sequence = sequence_;
  b.read_at = last_;
  b.elements = previous_;
  b.overflow = previous_overflow_;
  b.hits = previous_hits_;
  return b;
}

absl::Status TrafficCollector::Resume(const TrafficBaseline& b) {
  if (b.epoch != epoch_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the baseline is of epoch ", b.epoch, ", the collector's is ", epoch_));
  }
  sequence_ = b.sequence;
  last_ = b.read_at;
  previous_ = b.elements;
  previous_overflow_ = b.overflow;
  previous_hits_ = b.hits;
  return absl::OkStatus();
}

}  // namespace polder::agent
