#include "controller/message_validation.h"

#include <gtest/gtest.h>

#include "wire/limits.h"
#include "wire/sha256.h"

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

}  // namespace
}  // namespace polder::controller
