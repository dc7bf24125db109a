#include "wire/proto_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "wire/traffic_proto.h"

namespace polder::wire {
namespace {

TEST(ProtoConvertTest, TimesKeepNanoseconds) {
  for (absl::Time t : {absl::FromUnixNanos(1'800'000'000'123'456'789),
                       absl::FromUnixNanos(-1'500'000'000), absl::UnixEpoch()}) {
    google::protobuf::Timestamp ts;
    SetTimestamp(t, &ts);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_LT(ts.nanos(), 1'000'000'000);
    EXPECT_EQ(FromTimestamp(ts), t);
  }
}

TEST(ProtoConvertTest, ModesMapOneToOne) {
  for (Mode m : {Mode::kEnforce, Mode::kAudit}) EXPECT_EQ(FromProto(ToProto(m)), m);
  EXPECT_EQ(FromProto(v1::MODE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(FromProto(static_cast<v1::Mode>(7)), std::nullopt);
}

std::string Bytes(std::initializer_list<int> b) {
  std::string out;
  for (int v : b) out.push_back(static_cast<char>(v));
  return out;
}

// One of everything the structure can say, with values that differ from their defaults.
NftRuleset EveryShape() {
  NftRuleset rs;
  NftSet& map = rs.sets.emplace_back();
  map.name = "in4";
  map.key = {NftKeyType::kIpv4Addr};
  map.verdict_map = map.interval = true;
  map.elements.push_back(NftElement::Of({{Bytes({10, 0, 0, 0}), Bytes({10, 0, 0, 255})}},
                                        {NftVerdict::kJump, "in_p1"}));
  map.elements.push_back(NftElement::Of({{Bytes({10, 0, 1, 7}), Bytes({10, 0, 1, 7})}},
                                        {NftVerdict::kGoto, "denied"}));
  NftSet& seen = rs.sets.emplace_back();
  seen.name = "seen6";
  seen.key = {NftKeyType::kIpv6Addr, NftKeyType::kInetProto,  NftKeyType::kInetService,
              NftKeyType::kIcmpType, NftKeyType::kIcmpv6Type, NftKeyType::kIfname,
              NftKeyType::kCtState};
  seen.dynamic = seen.counter = true;
  seen.size = 65536;
  seen.timeout_s = 3600;
  NftElement e = NftElement::Of({{std::string(16, '\x20'), std::string(16, '\x20')},
                                 {Bytes({6}), Bytes({6})},
                                 {Bytes({0, 22}), Bytes({0, 25})},
                                 {Bytes({8}), Bytes({8})},
                                 {Bytes({128}), Bytes({129})},
                                 {std::string("lo\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16),
                                  std::string("lo\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16)},
                                 {Bytes({6, 0, 0, 0}), Bytes({6, 0, 0, 0})}});
  e.counter = true;
  e.packets = 12;
  e.bytes = 3400;
  seen.elements.push_back(e);
  rs.counters.push_back({"polder_denied", 5, 600});
  NftChain& profile = rs.chains.emplace_back();
  profile.name = "in_p1";
  NftRule& r = profile.rules.emplace_back();
  r.comment = "every match kind";
  r.matches.push_back(
      NftMatch::Equal(NftField::kCtState, {Bytes({1, 0, 0, 0}), Bytes({1, 0, 0, 0})}));
  r.matches.back().negate = true;
  r.matches.push_back(NftMatch::InSet({NftField::kL4Proto, NftField::kThDport}, "in_p1_l4"));
  r.matches.push_back(NftMatch::InAnonSet(NftField::kIcmpv6Type,
                                          {{Bytes({1}), Bytes({1})}, {Bytes({2}), Bytes({4})}}));
  r.matches.push_back(NftMatch::Vmap(NftField::kIp4Saddr, "in4"));
  r.statements.push_back(NftStatement::Counter());
  NftStatement named;
  named.kind = NftStatement::Kind::kNamedCounter;
  named.name = "polder_denied";
  r.statements.push_back(named);
  r.statements.push_back(NftStatement::Limit(10, 20));
  NftStatement log = NftStatement::Log("polder-deny ");
  log.log_group = 7;
  r.statements.push_back(log);
  NftStatement update;
  update.kind = NftStatement::Kind::kSetUpdate;
  update.name = "seen6";
  update.fields = {NftField::kIp6Saddr, NftField::kL4Proto, NftField::kThDport};
  r.statements.push_back(update);
  r.statements.push_back(NftStatement::Verdict(NftVerdict::kReturn));
  NftChain& input = rs.chains.emplace_back();
  input.name = input.hook = "input";
  input.base = true;
  input.policy = NftVerdict::kDrop;
  input.rules.push_back({{NftMatch::Equal(NftField::kIif, NftKeyPart{"lo", "lo"})},
                         {NftStatement::Verdict(NftVerdict::kAccept)},
                         ""});
  return rs;
}

TEST(ProtoConvertTest, StructuredRulesetRoundTrips) {
  NftRuleset rs = EveryShape();
  v1::NftRuleset msg;
  ToProto(rs, &msg);
  absl::StatusOr<NftRuleset> back = FromProto(msg);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == rs);
  // Exact values travel once: `to` is left out when it equals `from`.
  EXPECT_TRUE(msg.sets(0).elements(1).key(0).to().empty());
  EXPECT_FALSE(msg.sets(0).elements(0).key(0).to().empty());
  EXPECT_TRUE(FromProto(v1::NftRuleset())->sets.empty());
}

TEST(ProtoConvertTest, RulesetFileRoundTripsDeterministically) {
  RulesetFile f{{"db-1", std::string(64, 'a'), Mode::kAudit}, EveryShape()};
  std::string bytes = SerializeRulesetFile(f);
  EXPECT_EQ(bytes, SerializeRulesetFile(f));
  absl::StatusOr<RulesetFile> back = ParseRulesetFile(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->header.host, "db-1");
  EXPECT_EQ(back->header.revision, std::string(64, 'a'));
  EXPECT_EQ(back->header.mode, Mode::kAudit);
  EXPECT_TRUE(back->ruleset == f.ruleset);
}

TEST(ProtoConvertTest, RulesetFileRefusesWhatTheAgentCouldNotLoad) {
  EXPECT_FALSE(ParseRulesetFile("# polder ruleset host=db-1\ntable inet polder {}\n").ok());
  RulesetFile f{{"", std::string(64, 'a'), Mode::kEnforce}, {}};
  EXPECT_THAT(ParseRulesetFile(SerializeRulesetFile(f)).status().message(),
              ::testing::HasSubstr("no host"));
  f.header = {"db-1", "abc", Mode::kEnforce};
  EXPECT_THAT(ParseRulesetFile(SerializeRulesetFile(f)).status().message(),
              ::testing::HasSubstr("SHA-256"));

  auto refused = [](const std::function<void(v1::NftRuleset&)>& edit) {
    v1::NftRuleset msg;
    ToProto(EveryShape(), &msg);
    edit(msg);
    absl::StatusOr<NftRuleset> r = FromProto(msg);
    return r.ok() ? std::string("accepted") : std::string(r.status().message());
  };
  EXPECT_EQ(refused([](v1::NftRuleset& m) {
              m.mutable_sets(0)->set_key(0, static_cast<v1::NftKeyType>(99));
            }),
            "set in4: unknown key type 99");
  EXPECT_EQ(refused([](v1::NftRuleset& m) {
              m.mutable_sets(0)->mutable_elements(0)->add_key()->set_from("x");
            }),
            "set in4: element 1: 2 key parts for a key of 1");
  EXPECT_EQ(refused([](v1::NftRuleset& m) {
              m.mutable_sets(0)->mutable_elements(0)->mutable_key(0)->set_to("ab");
            }),
            "set in4: element 1: range ends of different lengths (4 and 2 bytes)");
  EXPECT_EQ(refused([](v1::NftRuleset& m) {
              m.mutable_sets(0)->mutable_elements(0)->mutable_data()->clear_chain();
            }),
            "set in4: element 1: jump or goto without a chain");
  EXPECT_EQ(
      refused([](v1::NftRuleset& m) {
        m.mutable_sets(1)->mutable_elements(0)->mutable_data()->set_verdict(v1::NFT_VERDICT_ACCEPT);
      }),
      "set seen6: element 1: a verdict on an element of a plain set");
  EXPECT_EQ(refused([](v1::NftRuleset& m) {
              m.mutable_chains(0)->mutable_rules(0)->mutable_matches(1)->clear_set();
            }),
            "chain in_p1: rule 1: a set lookup without a set name");
  EXPECT_EQ(
      refused([](v1::NftRuleset& m) { m.mutable_chains(1)->set_policy(v1::NFT_VERDICT_JUMP); }),
      "chain input: policy must be accept or drop");
}

}  // namespace
}  // namespace polder::wire

namespace polder::wire {
namespace {

TEST(TrafficProtoTest, BatchesCarryHitsBothWays) {
  TrafficReport r;
  r.host = "db-1";
  r.epoch = 3;
  r.sequence = 9;
  r.start = absl::FromUnixSeconds(1800000000);
  r.end = absl::FromUnixSeconds(1800000060);
  r.samples.push_back({"in", "10.0.0.1", "10.0.0.2", "tcp", 5432, "allowed", 3, 180});
  r.hits = {{"in_p1_l4/0600000015380000", 3, 180}, {"counter/allow_any_in", 1, 60}};
  r.clipped_hit_packets = 5;
  v1::TrafficBatch b;
  ToProto(r, &b);
  EXPECT_EQ(b.hits_size(), 2);
  absl::StatusOr<TrafficReport> back = FromProto(b);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  b.mutable_hits(1)->set_counter("");
  EXPECT_FALSE(FromProto(b).ok());
}

}  // namespace
}  // namespace polder::wire
