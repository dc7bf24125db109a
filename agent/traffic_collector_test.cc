#include "agent/traffic_collector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/testing/fake_clock.h"
#include "agent/traffic_spool.h"

namespace polder::agent {
namespace {

class FakeCounters : public CounterSource {
 public:
  std::map<std::string, std::vector<CountedElement>> sets;
  std::map<std::string, CounterValue> counters;
  absl::StatusOr<std::vector<CountedElement>> ReadSet(const std::string& name) override {
    auto it = sets.find(name);
    if (it == sets.end()) return absl::NotFoundError(name);
    return it->second;
  }
  absl::StatusOr<CounterValue> ReadCounter(const std::string& name) override {
    auto it = counters.find(name);
    if (it == counters.end()) return absl::NotFoundError(name);
    return it->second;
  }
};

// (src . dst . proto . port) as the kernel keys it: 4-byte parts.
std::string Key4(std::array<uint8_t, 4> src, std::array<uint8_t, 4> dst, uint8_t proto,
                 uint16_t port) {
  std::string k(reinterpret_cast<const char*>(src.data()), 4);
  k.append(reinterpret_cast<const char*>(dst.data()), 4);
  k += std::string{static_cast<char>(proto), 0, 0, 0};
  k += std::string{static_cast<char>(port >> 8), static_cast<char>(port & 0xff), 0, 0};
  return k;
}

CountedElement Counted(std::string key, uint64_t packets) {
  return CountedElement{std::move(key), true, CounterValue{packets, packets * 60}};
}

// A restarted agent finds the kernel's counters where the last one left them: resumed from
// the saved baseline it reports only what came since, and its numbering goes on.
TEST(TrafficCollectorTest, AResumedCollectorReportsOnlyWhatCameSince) {
  FakeCounters k;
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  ObservationSource in{"seen_in4_deny", "seen_in4_deny_overflow", true, false, false, "denied"};
  std::string key = Key4({10, 1, 0, 5}, {10, 3, 0, 10}, 6, 5432);
  k.sets["seen_in4_deny"] = {Counted(key, 3)};
  k.counters["seen_in4_deny_overflow"] = {2, 120};
  k.counters["allow_any"] = {7, 700};
  HitSources hits;
  hits.counters = {"allow_any"};
  TrafficBaseline saved;
  {
    TrafficCollector first("db-1", {in}, k, clock, 77);
    first.SetHitSources(hits);
    ASSERT_TRUE(first.Collect().ok());
    saved = first.baseline();
  }
  EXPECT_EQ(saved.sequence, 1u);
  EXPECT_EQ(saved.read_at, absl::FromUnixSeconds(1800000000));

  clock.Advance(absl::Seconds(60));
  k.sets["seen_in4_deny"] = {Counted(key, 5)};
  k.counters["seen_in4_deny_overflow"] = {3, 180};
  k.counters["allow_any"] = {9, 900};
  TrafficCollector second("db-1", {in}, k, clock, 77);
  second.SetHitSources(hits);
  ASSERT_TRUE(second.Resume(saved).ok());
  absl::StatusOr<TrafficCollector::Result> r = second.Collect();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->report.samples.size(), 1u);
  EXPECT_EQ(r->report.samples[0].connections, 2u);  // not 5
  EXPECT_EQ(r->report.lost, 1u);                    // not 3
  ASSERT_EQ(r->report.hits.size(), 1u);
  EXPECT_EQ(r->report.hits[0].packets, 2u);  // not 9
  EXPECT_EQ(r->report.sequence, 2u);
  EXPECT_EQ(r->report.start, absl::FromUnixSeconds(1800000000));

  TrafficCollector other_epoch("db-1", {in}, k, clock, 78);
  EXPECT_FALSE(other_epoch.Resume(saved).ok());
}

TEST(TrafficCollectorTest, ReportsDeltasLossAndRestartedCounters) {
  FakeCounters k;
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  ObservationSource in{"seen_in4_deny", "seen_in4_deny_overflow", true, false, false, "would-deny"};
  TrafficCollector c("db-1", {in}, k, clock, 77);
  std::string key = Key4({10, 1, 0, 5}, {10, 3, 0, 10}, 6, 5432);
  k.sets["seen_in4_deny"] = {Counted(key, 3)};
  k.counters["seen_in4_deny_overflow"] = {2, 120};

  absl::StatusOr<TrafficCollector::Result> first = c.Collect();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->report.samples.size(), 1u);
  const wire::TrafficReportSample& s = first->report.samples[0];
  EXPECT_EQ(s.direction, "in");
  EXPECT_EQ(s.local, "10.3.0.10");
  EXPECT_EQ(s.peer, "10.1.0.5");
  EXPECT_EQ(s.protocol, "tcp");
  EXPECT_EQ(s.port, 5432u);
  EXPECT_EQ(s.verdict, "would-deny");
  EXPECT_EQ(s.connections, 3u);
  EXPECT_EQ(first->report.lost, 2u);
  EXPECT_EQ(first->report.epoch, 77u);
  EXPECT_EQ(first->report.sequence, 1u);

  clock.Advance(absl::Seconds(60));
  k.sets["seen_in4_deny"] = {Counted(key, 5)};
  k.counters["seen_in4_deny_overflow"] = {2, 120};
  absl::StatusOr<TrafficCollector::Result> second = c.Collect();
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->report.samples.size(), 1u);
  EXPECT_EQ(second->report.samples[0].connections, 2u);  // 5 - 3
  EXPECT_EQ(second->report.lost, 0u);
  EXPECT_EQ(second->report.start, absl::FromUnixSeconds(1800000000));
  EXPECT_EQ(second->report.end, absl::FromUnixSeconds(1800000060));
  EXPECT_EQ(second->report.sequence, 2u);

  // The element timed out and came back (or the table was replaced): its value is all new.
  clock.Advance(absl::Seconds(60));
  k.sets["seen_in4_deny"] = {Counted(key, 1)};
  absl::StatusOr<TrafficCollector::Result> third = c.Collect();
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->report.samples.size(), 1u);
  EXPECT_EQ(third->report.samples[0].connections, 1u);

  // Unchanged: no sample.
  absl::StatusOr<TrafficCollector::Result> fourth = c.Collect();
  ASSERT_TRUE(fourth.ok());
  EXPECT_TRUE(fourth->report.samples.empty());
}

TEST(TrafficCollectorTest, MissingSetIsSaidAndBadKeysCounted) {
  FakeCounters k;
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  ObservationSource a{"a", "", true, false, false, "denied"};
  ObservationSource b{"b", "", false, false, false, "allowed"};
  k.sets["b"] = {Counted("short", 1), Counted(Key4({10, 3, 0, 10}, {10, 1, 0, 5}, 17, 53), 4)};
  TrafficCollector c("db-1", {a, b}, k, clock, 1);
  absl::StatusOr<TrafficCollector::Result> r = c.Collect();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->missing, std::vector<std::string>{"a"});
  EXPECT_EQ(r->undecodable, 1u);
  ASSERT_EQ(r->report.samples.size(), 1u);
  EXPECT_EQ(r->report.samples[0].direction, "out");
  EXPECT_EQ(r->report.samples[0].local, "10.3.0.10");
  EXPECT_EQ(r->report.samples[0].peer, "10.1.0.5");
  EXPECT_EQ(r->report.samples[0].protocol, "udp");
}

TEST(TrafficCollectorTest, IcmpAndIpv6Keys) {
  ObservationSource icmp6{"x", "", true, true, true, "denied"};
  std::string key(16, '\0');
  key[0] = '\x20';
  key[1] = '\x01';
  key[15] = '\x05';
  std::string dst(16, '\0');
  dst[0] = '\x20';
  dst[1] = '\x01';
  dst[15] = '\x0a';
  key += dst + std::string{'\x80', 0, 0, 0};  // echo-request
  wire::TrafficReportSample s;
  ASSERT_TRUE(DecodeObservationKey(icmp6, key, s));
  EXPECT_EQ(s.peer, "2001::5");
  EXPECT_EQ(s.local, "2001::a");
  EXPECT_EQ(s.protocol, "icmpv6");
  EXPECT_EQ(s.port, 128u);
}

TEST(TrafficSpoolTest, AppendsContinuesNumberingAndHealsACutLine) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("polder-spool-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  TrafficSpool spool(dir / "traffic.jsonl");
  absl::StatusOr<std::optional<TrafficSpool::Position>> none = spool.Last();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  wire::TrafficReport r;
  r.host = "db-1";
  r.epoch = 9;
  r.sequence = 1;
  ASSERT_TRUE(spool.Append(r).ok());
  { std::ofstream(spool.path(), std::ios::app) << "{\"host\":\"db-1\",\"ep"; }  // a crash mid-write
  r.sequence = 2;
  ASSERT_TRUE(spool.Append(r).ok());
  absl::StatusOr<std::optional<TrafficSpool::Position>> last = spool.Last();
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->epoch, 9u);
  EXPECT_EQ((*last)->sequence, 2u);
  TrafficSpool tiny(dir / "tiny.jsonl", 10);
  EXPECT_EQ(tiny.Append(r).code(), absl::StatusCode::kResourceExhausted);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace polder::agent

namespace polder::agent {
namespace {

TEST(TrafficCollectorTest, HitsAreTheDeltasOfTheAllowCountersByProvenanceId) {
  FakeCounters k;
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  HitSources hits = HitSourcesFromNames({"in4", "in_p3_l4", "seen_in4_allowed"},
                                        {"in_p2_any", "seen_in4_allowed_overflow"});
  EXPECT_EQ(hits.sets, (std::vector<std::string>{"in4", "in_p3_l4"}));
  EXPECT_EQ(hits.counters, std::vector<std::string>{"in_p2_any"});
  TrafficCollector c("web-1", {}, k, clock, 1);
  c.SetHitSources(hits);
  std::string https("\x06\0\0\0\x01\xbb\0\0", 8);
  // An interval map: the range's start carries the counter; its end is no element.
  CountedElement range = Counted(std::string("\xc6\x12\0\0", 4), 5);
  CountedElement end = Counted(std::string("\xc6\x12\x96\0", 4), 9);
  end.interval_end = true;
  k.sets["in4"] = {range, end};
  CountedElement uncounted;  // a set without `counter`: no hit
  uncounted.key = std::string("\x06\0\0\0\0\x16\0\0", 8);
  k.sets["in_p3_l4"] = {Counted(https, 5), uncounted};
  k.counters["in_p2_any"] = {0, 0};

  absl::StatusOr<TrafficCollector::Result> first = c.Collect();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->report.hits,
            (std::vector<wire::TrafficHit>{{"in4/c6120000", 5, 300},
                                           {"in_p3_l4/0600000001bb0000", 5, 300}}));
  EXPECT_TRUE(first->report.samples.empty());

  k.sets["in_p3_l4"][0].counter = {7, 420};
  k.counters["in_p2_any"] = {1, 84};
  absl::StatusOr<TrafficCollector::Result> second = c.Collect();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->report.hits,
            (std::vector<wire::TrafficHit>{{"in_p3_l4/0600000001bb0000", 2, 120},
                                           {"counter/in_p2_any", 1, 84}}));

  k.sets.erase("in4");  // an apply removed the map: said, not silent
  absl::StatusOr<TrafficCollector::Result> third = c.Collect();
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->report.hits.empty());
  EXPECT_EQ(third->missing, std::vector<std::string>{"in4"});
}

TEST(TrafficCollectorTest, SourcesFollowTheRenderersNames) {
  std::vector<ObservationSource> s = ObservationSourcesFromSetNames(
      {"in4", "seen_in4_would_deny", "seen_out6_icmp_denied", "seen_in4_maybe", "seen_up4_denied"});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].set, "seen_in4_would_deny");
  EXPECT_TRUE(s[0].inbound);
  EXPECT_FALSE(s[0].ipv6);
  EXPECT_EQ(s[0].verdict, "would-deny");
  EXPECT_EQ(s[0].overflow_counter, "seen_in4_would_deny_overflow");
  EXPECT_FALSE(s[1].inbound);
  EXPECT_TRUE(s[1].ipv6);
  EXPECT_TRUE(s[1].icmp);
  EXPECT_EQ(s[1].verdict, "denied");
}

}  // namespace
}  // namespace polder::agent
