#include "controller/message_validation.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <vector>

#include "wire/limits.h"
#include "wire/sha256.h"
#include "wire/traffic_proto.h"

namespace polder::controller {
namespace {

v1::Hello GoodHello() {
  v1::Hello h;
  h.set_host("web-1");
  h.set_agent_version("0.1.0");
  h.set_ruleset_hash(wire::Sha256Hex("x"));
  return h;
}

TEST(MessageValidationTest, Hello) {
  EXPECT_TRUE(ValidateHello(GoodHello()).ok());
  v1::Hello h = GoodHello();
  h.set_host("");
  EXPECT_FALSE(ValidateHello(h).ok());
  h.set_host("Web-1");
  EXPECT_FALSE(ValidateHello(h).ok());
  h = GoodHello();
  h.set_ruleset_hash("abc");
  EXPECT_FALSE(ValidateHello(h).ok());
  h = GoodHello();
  h.set_agent_version(std::string("a\0b", 3));
  EXPECT_FALSE(ValidateHello(h).ok());
  h.set_agent_version("");
  EXPECT_FALSE(ValidateHello(h).ok());
}

TEST(MessageValidationTest, ApplyResult) {
  v1::ApplyResult r;
  r.set_ok(true);
  r.set_ruleset_hash(wire::Sha256Hex("x"));
  EXPECT_TRUE(ValidateApplyResult(r).ok());
  r.set_ok(false);
  EXPECT_FALSE(ValidateApplyResult(r).ok());  // failure without a reason
  r.set_error("boom");
  EXPECT_TRUE(ValidateApplyResult(r).ok());
  r.mutable_duration()->set_seconds(-1);
  EXPECT_FALSE(ValidateApplyResult(r).ok());
  r.mutable_duration()->set_seconds(0);
  r.set_ruleset_hash(std::string(64, 'G'));
  EXPECT_FALSE(ValidateApplyResult(r).ok());
}

TEST(MessageValidationTest, DriftReport) {
  v1::DriftReport d;
  EXPECT_FALSE(ValidateDriftReport(d).ok());
  d.add_differences("rule added");
  EXPECT_TRUE(ValidateDriftReport(d).ok());
  d.mutable_time()->set_nanos(2000000000);
  EXPECT_FALSE(ValidateDriftReport(d).ok());
  d.mutable_time()->set_nanos(0);
  d.set_pid(-4);
  EXPECT_FALSE(ValidateDriftReport(d).ok());
  d.set_pid(4);
  d.add_differences(std::string(wire::kMaxDifferenceBytes + 1, 'x'));
  EXPECT_FALSE(ValidateDriftReport(d).ok());
}

TEST(MessageValidationTest, QuarantineAndRelease) {
  v1::QuarantineRequest q;
  q.set_target("web-1");
  q.set_reason("incident");
  q.add_allow("mgmt");
  EXPECT_TRUE(ValidateQuarantineRequest(q).ok());
  q.set_reason("");
  EXPECT_FALSE(ValidateQuarantineRequest(q).ok());
  q.set_reason("line\nbreak");
  EXPECT_FALSE(ValidateQuarantineRequest(q).ok());
  q.set_reason("ok");
  q.add_allow("no such/zone");
  EXPECT_FALSE(ValidateQuarantineRequest(q).ok());
  v1::ReleaseRequest r;
  EXPECT_FALSE(ValidateReleaseRequest(r).ok());
  r.set_target("web");
  EXPECT_TRUE(ValidateReleaseRequest(r).ok());
}

TEST(MessageValidationTest, ControlCharactersFromAgentsAreEscaped) {
  EXPECT_EQ(EscapeControlCharacters("Error: bad\n\x1b[2Jfake line\r\tx\x7f ok"),
            "Error: bad\\n\\x1b[2Jfake line\\x0d\\tx\\x7f ok");
  EXPECT_EQ(EscapeControlCharacters("plain text, caf\xc3\xa9"), "plain text, caf\xc3\xa9");
  EXPECT_EQ(EscapeControlCharacters("csi \xc2\x9b"
                                    "2J"),
            "csi \\xc2\\x9b2J");
}

v1::TrafficBatch GoodBatch() {
  v1::TrafficBatch b;
  b.set_host("db-1");
  b.set_epoch(1764670000);
  b.set_sequence(1);
  b.mutable_start()->set_seconds(1764670000);
  b.mutable_end()->set_seconds(1764670060);
  auto* s = b.add_samples();
  s->set_direction(v1::TRAFFIC_DIRECTION_IN);
  s->set_local("10.0.0.1");
  s->set_peer("10.0.0.2");
  s->set_protocol(v1::TRAFFIC_PROTOCOL_TCP);
  s->set_port(5432);
  s->set_verdict(v1::TRAFFIC_VERDICT_ALLOWED);
  s->set_connections(3);
  return b;
}

TEST(MessageValidationTest, TrafficBatch) {
  EXPECT_TRUE(ValidateTrafficBatch(GoodBatch()).ok());
  std::vector<std::function<void(v1::TrafficBatch&)>> breaks = {
      [](auto& b) { b.set_host("DB 1"); },
      [](auto& b) { b.set_sequence(0); },
      [](auto& b) { b.mutable_end()->set_seconds(1764669000); },  // before start
      [](auto& b) { b.mutable_start()->set_nanos(-1); },
      [](auto& b) { b.mutable_samples(0)->set_direction(v1::TRAFFIC_DIRECTION_UNSPECIFIED); },
      [](auto& b) { b.mutable_samples(0)->set_direction(static_cast<v1::TrafficDirection>(9)); },
      [](auto& b) { b.mutable_samples(0)->set_verdict(static_cast<v1::TrafficVerdict>(7)); },
      [](auto& b) { b.mutable_samples(0)->set_protocol(v1::TRAFFIC_PROTOCOL_UNSPECIFIED); },
      [](auto& b) { b.mutable_samples(0)->set_port(0); },
      [](auto& b) { b.mutable_samples(0)->set_port(65536); },
      [](auto& b) { b.mutable_samples(0)->set_local("10.0.0.256"); },
      [](auto& b) { b.mutable_samples(0)->set_peer(""); },
      [](auto& b) { b.mutable_samples(0)->set_peer("::1"); },  // other family
      [](auto& b) { b.mutable_samples(0)->set_peer(std::string("10.0.0.2\0x", 10)); },
      [](auto& b) {
        b.mutable_samples(0)->set_protocol(v1::TRAFFIC_PROTOCOL_ICMPV6);  // on IPv4
        b.mutable_samples(0)->set_port(128);
      },
      [](auto& b) {
        b.mutable_samples(0)->set_protocol(v1::TRAFFIC_PROTOCOL_ICMP);
        b.mutable_samples(0)->set_port(256);
      },
      [](auto& b) {
        for (int i = 0; i < wire::kMaxTrafficSamplesPerBatch; ++i) *b.add_samples() = b.samples(0);
      },
      [](auto& b) { b.add_hits()->set_counter(""); },
      [](auto& b) { b.add_hits()->set_counter("a\nb"); },
      [](auto& b) {
        b.add_hits()->set_counter(std::string(wire::kMaxTrafficCounterNameBytes + 1, 'a'));
      },
  };
  for (size_t i = 0; i < breaks.size(); ++i) {
    v1::TrafficBatch b = GoodBatch();
    breaks[i](b);
    EXPECT_FALSE(ValidateTrafficBatch(b).ok()) << "case " << i;
  }
  v1::TrafficBatch icmp = GoodBatch();
  icmp.mutable_samples(0)->set_protocol(v1::TRAFFIC_PROTOCOL_ICMP);
  icmp.mutable_samples(0)->set_port(0);  // echo reply: type 0 is a valid ICMP type
  EXPECT_TRUE(ValidateTrafficBatch(icmp).ok());
  v1::TrafficBatch v6 = GoodBatch();
  v6.mutable_samples(0)->set_local("fd00::1");
  v6.mutable_samples(0)->set_peer("fd00::2");
  v6.add_hits()->set_counter("allow_db_in");
  EXPECT_TRUE(ValidateTrafficBatch(v6).ok());
}

// Random bytes parsed as a batch never crash validation, and whatever passes converts.
TEST(MessageValidationTest, TrafficBatchFromRandomBytes) {
  std::mt19937 rng(11);
  std::string good = GoodBatch().SerializeAsString();
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    v1::TrafficBatch b;
    if (!b.ParseFromString(bytes)) continue;
    if (ValidateTrafficBatch(b).ok()) {
      EXPECT_TRUE(wire::FromProto(b).ok()) << round;
    }
  }
}

TEST(MessageValidationTest, TrafficRequest) {
  v1::TrafficRequest r;
  EXPECT_TRUE(ValidateTrafficRequest(r).ok());
  r.set_host("db-1");
  r.set_zone("db");
  EXPECT_TRUE(ValidateTrafficRequest(r).ok());
  r.set_zone("no zone");
  EXPECT_FALSE(ValidateTrafficRequest(r).ok());
  r.clear_zone();
  r.mutable_since()->set_nanos(2000000000);
  EXPECT_FALSE(ValidateTrafficRequest(r).ok());
}

}  // namespace
}  // namespace polder::controller
