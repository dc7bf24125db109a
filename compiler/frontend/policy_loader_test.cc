// Table-driven diagnostics: one small policy per case and the exact first
// line of the text output (spec §9), so a changed message or code fails.
#include "compiler/frontend/policy_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "compiler/model/revision.h"
#include "compiler/render/diagnostic_format.h"

namespace polder {
namespace {

const char* kZones = R"(zones:
  - name: internet
    external: true
    cidrs: [0.0.0.0/0, "::/0"]
  - name: web
    cidrs: [10.1.0.0/24, "2001:db8:1::/64"]
  - name: db
    cidrs: [10.2.0.0/24]
services:
  - name: https
    ports: [tcp/443]
  - name: pg
    ports: [tcp/5432]
)";

absl::Time Now() { return absl::FromUnixSeconds(1'800'000'000); }  // 2027-01-15

LoadResult Load(const std::string& extra) {
  return LoadPolicyFromFiles({{"a.yaml", kZones}, {"b.yaml", extra}}, LoadOptions{Now()});
}

std::string FirstLine(const LoadResult& r) {
  std::string text = FormatText(r.diagnostics, r.sources);
  return text.substr(0, text.find('\n'));
}

struct Case {
  const char* name;
  const char* file_b;
  const char* first_line;
};

class DiagnosticCase : public ::testing::TestWithParam<Case> {};

TEST_P(DiagnosticCase, ReportsExactly) {
  LoadResult r = Load(GetParam().file_b);
  EXPECT_EQ(FirstLine(r), GetParam().first_line) << FormatText(r.diagnostics, r.sources);
}

const Case kCases[] = {
    {"parse_error", "flows: [\n",
     "b.yaml:2:1: error: invalid YAML: end of sequence flow not found [parse-error]"},
    {"unknown_root_key", "servces: []\n",
     "b.yaml:1:1: error: unknown key `servces` in a policy file (did you mean `services`?) "
     "[unknown-key]"},
    {"unknown_flow_key",
     "flows:\n  - from: internet\n    to: web\n    services: https\n    sevices: x\n",
     "b.yaml:5:5: error: unknown key `sevices` in a flow (did you mean `services`?) [unknown-key]"},
    {"unknown_ref_zone", "flows:\n  - from: internet\n    to: wbe\n    services: https\n",
     "b.yaml:3:9: error: unknown zone or host `wbe` in `to` (did you mean `web`?) [unknown-ref]"},
    {"unknown_ref_service", "flows:\n  - from: internet\n    to: web\n    services: [htps]\n",
     "b.yaml:4:16: error: unknown service `htps` (did you mean `https`?); declare it under "
     "`services:` [unknown-ref]"},
    {"duplicate_zone", "zones:\n  - name: web\n    cidrs: [10.9.0.0/24]\n",
     "b.yaml:2:11: error: zone name `web` is already used at a.yaml:5:11; zones and hosts need "
     "distinct names [duplicate-name]"},
    {"host_bits", "zones:\n  - name: app\n    cidrs: [10.3.0.1/24]\n",
     "b.yaml:3:13: error: `10.3.0.1/24` has host bits set; write `10.3.0.0/24` [invalid-cidr]"},
    {"same_prefix_two_zones", "zones:\n  - name: app\n    cidrs: [10.2.0.0/24]\n",
     "b.yaml:3:13: error: prefix 10.2.0.0/24 is already claimed at a.yaml:8:13; a prefix may "
     "belong to one zone only [invalid-cidr]"},
    {"bad_port", "services:\n  - name: x\n    ports: [tcp/70000]\n",
     "b.yaml:3:13: error: `tcp/70000`: ports are 1-65535 [invalid-port]"},
    {"reversed_range", "services:\n  - name: x\n    ports: [udp/2000-1000]\n",
     "b.yaml:3:13: error: `udp/2000-1000`: the range is reversed; write udp/1000-2000 "
     "[invalid-port]"},
    {"bad_icmp_type", "services:\n  - name: x\n    ports: [icmp/echo]\n",
     "b.yaml:3:13: error: `icmp/echo`: unknown icmp type `echo`; known types: echo-reply, "
     "destination-unreachable, source-quench, redirect, echo-request, router-advertisement, "
     "router-solicitation, time-exceeded, parameter-problem, timestamp-request, timestamp-reply, "
     "info-request, info-reply, address-mask-request, address-mask-reply [invalid-port]"},
    {"address_outside_zone", "hosts:\n  - name: web-1\n    zone: web\n    addresses: [10.2.0.5]\n",
     "b.yaml:4:17: error: address 10.2.0.5 of host `web-1` classifies into zone `db`, not `web`; "
     "fix the address or the zone's cidrs [address-outside-zone]"},
    {"host_in_external_zone", "hosts:\n  - name: pc\n    addresses: [8.8.8.8]\n",
     "b.yaml:3:16: error: host `pc` is in external zone `internet`; agents run only in internal "
     "zones, so move the host or make the zone internal [address-outside-zone]"},
    {"empty_zone",
     "zones:\n  - name: shadow\n    cidrs: [10.5.0.0/25, 10.5.0.128/25]\n  - name: wide\n    "
     "cidrs: [10.5.0.0/24]\n",
     "b.yaml:4:11: error: zone `wide` has no addresses of its own: more specific prefixes of other "
     "zones cover all of its cidrs; remove the zone or give it a prefix of its own [empty-zone]"},
    {"external_to_external",
     "zones:\n  - name: partners\n    external: true\n    cidrs: [192.0.2.0/24]\nflows:\n  - from: "
     "partners\n    to: internet\n    services: https\n",
     "b.yaml:6:11: error: flow `b.yaml:6` goes from external zone `partners` to external zone "
     "`internet`; no agent could enforce it, so name an internal zone on one side "
     "[external-to-external]"},
    {"expired_flow",
     "flows:\n  - name: old\n    from: internet\n    to: web\n    services: https\n    expires: "
     "2021-03-01T00:00:00Z\n",
     "b.yaml:2:5: warning: flow `old` expired at 2021-03-01T00:00:00Z and has no effect; remove it "
     "or extend `expires` [expired-flow]"},
    {"bad_expires",
     "flows:\n  - from: internet\n    to: web\n    services: https\n    expires: next tuesday\n",
     "b.yaml:5:14: error: `expires: next tuesday` is not an RFC 3339 time; write e.g. "
     "2027-03-01T00:00:00Z [parse-error]"},
    {"bad_version", "version: 2\n",
     "b.yaml:1:10: error: `version: 2`: only version 1 of the policy language exists; write "
     "`version: 1` or leave the key out [parse-error]"},
    {"quoted_version", "version: \"1\"\n",
     "b.yaml:1:10: error: `version` is the number 1, but `1` is quoted, which makes it a string; "
     "write `version: 1` [parse-error]"},
    {"version_not_a_number", "version: one\n",
     "b.yaml:1:10: error: `version` is the number 1, not `one`; write `version: 1` or leave the "
     "key out [parse-error]"},
    {"quoted_number", "invariants:\n  - name: s\n    exposure: {from: internet, max: \"2\"}\n",
     "b.yaml:3:37: error: `max` is a number, but `\"2\"` is quoted, which makes it a string; "
     "remove the quotes [parse-error]"},
    {"bad_name", "zones:\n  - name: Web\n    cidrs: [10.7.0.0/24]\n",
     "b.yaml:2:11: error: zone name `Web` is not a valid name: use 1-63 lower-case letters, "
     "digits, `-` or `_`, starting with a letter [parse-error]"},
    {"empty_file", "",
     "b.yaml:1:1: error: the file is empty; give it a mapping such as `zones: []`, or delete it "
     "[parse-error]"},
    {"self_alias", "zones: &a [*a]\n",
     "b.yaml:1:12: error: alias *a refers to the node that contains it; an alias may only repeat a "
     "complete node defined before it [limit-exceeded]"},
    {"invariant_unknown_zone", "invariants:\n  - name: x\n    no_path: {from: internet, to: dbb}\n",
     "b.yaml:3:35: error: unknown zone `dbb` (did you mean `db`?) [unknown-ref]"},
    {"invariant_two_kinds",
     "invariants:\n  - name: x\n    no_path: {from: internet, to: db}\n    isolate: db\n",
     "b.yaml:2:5: error: invariant `x` needs exactly one of no_path, isolate, via, exposure, "
     "reach; it "
     "has no_path, isolate [parse-error]"},
    {"settings_bad_mode", "settings:\n  mode: block\n",
     "b.yaml:2:9: error: `mode` is enforce or audit, not `block` [parse-error]"},
    {"controller_port_zero", "settings:\n  controller: {addresses: [10.1.0.2], port: 0}\n",
     "b.yaml:2:45: error: the controller port must be 1-65535, not 0 [invalid-port]"},
    {"prefix_twice_in_a_zone", "zones:\n  - name: lan\n    cidrs: [10.9.0.0/24, 10.9.0.0/24]\n",
     "b.yaml:3:26: error: prefix 10.9.0.0/24 is listed twice in zone `lan` (first at b.yaml:3:13); "
     "remove one [invalid-cidr]"},
    // A value left empty is reported at its key, not at whatever token follows.
    {"empty_cidrs", "zones:\n  - name: app\n    cidrs:\n  - name: lan\n    cidrs: [10.9.0.0/24]\n",
     "b.yaml:3:5: error: zone `app` needs at least one prefix in `cidrs` [invalid-cidr]"},
    {"empty_to", "flows:\n  - from: internet\n    to:\n    services: https\n",
     "b.yaml:3:5: error: `to` must be a list or a single name, not nothing [parse-error]"},
    {"expires_five_digit_year",
     "flows:\n  - from: internet\n    to: web\n    services: https\n    expires: "
     "20270-01-01T00:00:00Z\n",
     "b.yaml:5:14: error: `expires: 20270-01-01T00:00:00Z` is not an RFC 3339 time; write e.g. "
     "2027-03-01T00:00:00Z [parse-error]"},
    // Over- and under-indented keys: yaml-cpp names no cause, the hint does.
    {"over_indented_key", "zones:\n  - name: app\n     cidrs: [10.9.0.0/24]\n",
     "b.yaml:3:6: error: invalid YAML: illegal map value; hint: line 3 looks over-indented: "
     "`cidrs:` is indented 5 spaces, more than `name:` on line 2 (4 spaces), which already has "
     "its value; indent it like `name:` to continue that mapping [parse-error]"},
    {"over_indented_after_flow_list",
     "zones:\n- name: app\n  cidrs: [10.9.0.0/24]\n\n  # a comment\n   external: true\n",
     "b.yaml:6:4: error: invalid YAML: end of map not found; hint: line 6 looks over-indented: "
     "`external:` is indented 3 spaces, more than `cidrs:` on line 3 (2 spaces), which already "
     "has its value; indent it like `cidrs:` to continue that mapping [parse-error]"},
    {"under_indented_key", "zones:\n  - name: app\n   cidrs: [10.9.0.0/24]\n",
     "b.yaml:3:4: error: invalid YAML: end of sequence not found; hint: line 3 looks "
     "under-indented: `cidrs:` is indented 3 spaces, less than `name:` on line 2 (4 spaces) but "
     "more than the enclosing key `zones:` on line 1 (0 spaces); indent it like `name:` to "
     "continue that block, or like `zones:` to start a new key there [parse-error]"},
    {"under_indented_top_level_key",
     "zones:\n  - name: app\n    cidrs: [10.9.0.0/24]\n  services:\n  - name: x\n",
     "b.yaml:4:3: error: invalid YAML: end of map not found; hint: line 4 looks under-indented: "
     "`services:` is indented 2 spaces, less than `name:` on line 2 (4 spaces) but more than the "
     "enclosing key `zones:` on line 1 (0 spaces); indent it like `name:` to continue that "
     "block, or like `zones:` to start a new key there [parse-error]"},
    {"under_indented_list_item",
     "zones:\n  - name: app\n    cidrs:\n      - 10.9.0.0/24\n     - 10.8.0.0/24\n",
     "b.yaml:5:6: error: invalid YAML: end of map not found; hint: line 5 looks under-indented: "
     "the list item is indented 5 spaces, less than the list item on line 4 (6 spaces) but more "
     "than the enclosing key `cidrs:` on line 3 (4 spaces); indent it like the list item to "
     "continue that block, or like `cidrs:` to start a new key there [parse-error]"},
    {"over_indented_setting", "settings:\n  mode: enforce\n    log_denied: true\n",
     "b.yaml:3:5: error: invalid YAML: illegal map value; hint: line 3 looks over-indented: "
     "`log_denied:` is indented 4 spaces, more than `mode:` on line 2 (2 spaces), which already "
     "has its value; indent it like `mode:` to continue that mapping [parse-error]"},
    // Not an indentation problem: no hint.
    {"map_value_in_a_value", "zones: a: b\n",
     "b.yaml:1:9: error: invalid YAML: illegal map value [parse-error]"},
    // The `reach` invariant and the `services` of `no_path` / `via` (spec §6).
    {"reach_unknown_key",
     "invariants:\n  - name: r\n    reach: {from: internet, to: web, through: db}\n",
     "b.yaml:3:38: error: unknown key `through` in `reach`; known keys: from, to, services, direct "
     "[unknown-key]"},
    {"reach_direct_not_bool",
     "invariants:\n  - name: r\n    reach: {from: internet, to: web, direct: yes}\n",
     "b.yaml:3:46: error: `direct` must be true or false, not `yes` [parse-error]"},
    {"reach_needs_to", "invariants:\n  - name: r\n    reach: {from: internet}\n",
     "b.yaml:3:12: error: `reach` needs a `to` [parse-error]"},
    {"reach_unknown_service",
     "invariants:\n  - name: r\n    reach: {from: internet, to: web, services: [htps]}\n",
     "b.yaml:3:49: error: unknown service `htps` (did you mean `https`?); declare it under "
     "`services:` [unknown-ref]"},
    {"via_unknown_service",
     "invariants:\n  - name: v\n    via: {from: internet, to: db, through: web, services: ssh}\n",
     "b.yaml:3:59: error: unknown service `ssh`; declare it under `services:` [unknown-ref]"},
    {"no_path_empty_services",
     "invariants:\n  - name: n\n    no_path: {from: internet, to: db, services: []}\n",
     "b.yaml:3:49: error: `services` names no service; use `any` for every service [parse-error]"},
    {"direct_outside_reach",
     "invariants:\n  - name: n\n    no_path: {from: internet, to: db, direct: true}\n",
     "b.yaml:3:39: error: unknown key `direct` in `no_path`; known keys: from, to, services "
     "[unknown-key]"},
    // Postures (spec §6a).
    {"posture_duplicate_name",
     "postures:\n  - {name: lockdown, isolate: web}\n  - {name: lockdown, isolate: db}\n",
     "b.yaml:3:12: error: posture `lockdown` is already declared at b.yaml:2:12 [duplicate-name]"},
    {"posture_unknown_isolate", "postures:\n  - {name: lockdown, isolate: [web, dbb]}\n",
     "b.yaml:2:37: error: unknown zone or host `dbb` in `isolate` (did you mean `db`?) "
     "[unknown-ref]"},
    {"posture_needs_isolate", "postures:\n  - name: lockdown\n    owner: ciso\n",
     "b.yaml:2:5: error: posture `lockdown` needs a `isolate` [parse-error]"},
    {"posture_unknown_key", "postures:\n  - name: lockdown\n    isolate: web\n    alow: []\n",
     "b.yaml:4:5: error: unknown key `alow` in a posture (did you mean `allow`?) [unknown-key]"},
    {"posture_unknown_allow_zone",
     "postures:\n  - name: lockdown\n    isolate: web\n    allow:\n      - {zone: internt}\n",
     "b.yaml:5:16: error: unknown zone `internt` (did you mean `internet`?) [unknown-ref]"},
    {"posture_unknown_allow_service",
     "postures:\n  - name: lockdown\n    isolate: web\n    allow:\n      - {zone: internet, "
     "services: [htps]}\n",
     "b.yaml:5:37: error: unknown service `htps` (did you mean `https`?); declare it under "
     "`services:` [unknown-ref]"},
    {"posture_allow_unknown_key",
     "postures:\n  - name: lockdown\n    isolate: web\n    allow:\n      - {zon: internet}\n",
     "b.yaml:5:10: error: unknown key `zon` in an `allow` entry (did you mean `zone`?) "
     "[unknown-key]"},
    {"posture_allow_zone_twice",
     "postures:\n  - name: lockdown\n    isolate: web\n    allow:\n      - {zone: internet}\n"
     "      - {zone: internet, services: https}\n",
     "b.yaml:6:16: error: zone `internet` already has an `allow` entry at b.yaml:5:16; merge the "
     "two entries [duplicate-name]"},
    {"posture_keep_unknown_invariant",
     "invariants:\n  - name: web-reachable\n    reach: {from: internet, to: web}\n"
     "postures:\n  - name: lockdown\n    isolate: db\n    keep: [web-reachabel]\n",
     "b.yaml:7:12: error: unknown invariant `web-reachabel` in `keep` (did you mean "
     "`web-reachable`?); name a policy `reach` invariant or write one inline as `- reach: {from: "
     "A, to: B}` [unknown-ref]"},
    {"posture_keep_not_reach",
     "invariants:\n  - name: db-closed\n    no_path: {from: internet, to: db}\n"
     "postures:\n  - name: lockdown\n    isolate: db\n    keep: [db-closed]\n",
     "b.yaml:7:12: error: invariant `db-closed` (b.yaml:2) is a `no_path` invariant, but `keep` "
     "lists what must still work: name a `reach` invariant, or write one inline as `- reach: "
     "{from: A, to: B}` [not-a-reach-invariant]"},
    {"posture_keep_inline_unknown_zone",
     "postures:\n  - name: lockdown\n    isolate: db\n    keep:\n      - reach: {from: internet, "
     "to: wbe}\n",
     "b.yaml:5:37: error: unknown zone `wbe` (did you mean `web`?) [unknown-ref]"},
    {"posture_keep_other_kind",
     "postures:\n  - name: lockdown\n    isolate: db\n    keep:\n      - no_path: {from: internet, "
     "to: web}\n",
     "b.yaml:5:9: error: unknown key `no_path` in a `keep` entry; known keys: reach [unknown-key]"},
    {"posture_keep_list_item",
     "postures:\n  - name: lockdown\n    isolate: db\n    keep:\n      - [web]\n",
     "b.yaml:5:9: error: a `keep` entry is the name of a policy `reach` invariant or an inline "
     "`reach: {from: A, to: B}`, not a list [parse-error]"},
};

INSTANTIATE_TEST_SUITE_P(Diagnostics, DiagnosticCase,
                         ::testing::ValuesIn(std::begin(kCases), std::end(kCases)),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LoaderTest, NulByteIsAParseError) {
  LoadResult r = Load(std::string("zones: []\n\0x\n", 13));
  EXPECT_EQ(
      FirstLine(r),
      "b.yaml:2:1: error: the file contains a NUL byte; policy files are UTF-8 text [parse-error]");
}

TEST(LoaderTest, InvalidUtf8IsAParseError) {
  LoadResult r = Load("zones: []\n# caf\xe9\n");
  EXPECT_EQ(
      FirstLine(r),
      "b.yaml:2:6: error: the file is not valid UTF-8 here; save it as UTF-8 text [parse-error]");
}

TEST(LoaderTest, QuotesSourceLineWithCaret) {
  LoadResult r = Load("flows:\n  - from: internet\n    to: wbe\n    services: https\n");
  EXPECT_THAT(FormatText(r.diagnostics, r.sources),
              ::testing::HasSubstr("[unknown-ref]\n    to: wbe\n        ^\n"));
}

TEST(LoaderTest, CaretCountsCharactersAndQuotesNoControlBytes) {
  LoadResult r = Load("flows:\n  - {name: caf\xc3\xa9, from: internet, to: wbe}  # \x1b[2J\n");
  EXPECT_THAT(FormatText(r.diagnostics, r.sources),
              ::testing::HasSubstr("to: wbe}  # ?[2J\n" + std::string(37, ' ') + "^\n"));
}

TEST(LoaderTest, CollectsManyErrors) {
  std::string flows = "flows:\n";
  for (int i = 0; i < 5; ++i) flows += "  - {from: nowhere, to: web, services: https}\n";
  LoadResult r = Load(flows);
  EXPECT_EQ(r.diagnostics.error_count(), 5u);
}

TEST(LoaderTest, ErrorsAreBounded) {
  std::string flows = "flows:\n";
  for (int i = 0; i < 300; ++i) flows += "  - {from: nowhere, to: web, services: https}\n";
  LoadResult r = Load(flows);
  EXPECT_EQ(r.diagnostics.error_count(), DiagnosticList::kMaxErrors);
}

TEST(LoaderTest, ValidPolicyResolves) {
  LoadResult r = Load(
      "hosts:\n  - name: web-1\n    addresses: [10.1.0.11, \"2001:db8:1::11\"]\n"
      "flows:\n  - from: internet\n    to: web-1\n    services: [https]\n"
      "  - action: deny\n    from: internet\n    to: web\n    services: any\n"
      "    sources: [203.0.113.0/24]\n");
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  const Policy& p = r.policy;
  ASSERT_EQ(p.hosts.size(), 1u);
  EXPECT_EQ(p.zones[p.hosts[0].zone].name, "web");
  ASSERT_EQ(p.flows.size(), 2u);
  EXPECT_EQ(p.flows[1].action, Action::kDeny);
  EXPECT_EQ(p.flows[0].name, "b.yaml:5");
  EXPECT_EQ(p.zones[*p.FindZone("internet")].effective.ToString(),
            "0.0.0.0-10.0.255.255, 10.1.1.0-10.1.255.255, 10.2.1.0-255.255.255.255, "
            "::-2001:db8:0:ffff:ffff:ffff:ffff:ffff, "
            "2001:db8:1:1::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(p.revision.size(), 64u);
}

TEST(RevisionTest, IndependentOfFileOrderAndFormatting) {
  LoadResult a = LoadPolicyFromFiles(
      {{"a.yaml", kZones}, {"b.yaml", "flows:\n  - {from: internet, to: web, services: https}\n"}},
      LoadOptions{Now()});
  LoadResult b = LoadPolicyFromFiles(
      {{"z.yaml", kZones},
       {"m/flows.yml",
        "# reformatted\nflows:\n  -   from: internet\n      services: [https]\n      to: [web]\n"}},
      LoadOptions{Now()});
  ASSERT_FALSE(a.diagnostics.HasErrors());
  ASSERT_FALSE(b.diagnostics.HasErrors());
  EXPECT_EQ(a.policy.revision, b.policy.revision);
  LoadResult c = LoadPolicyFromFiles(
      {{"a.yaml", kZones}, {"b.yaml", "flows:\n  - {from: internet, to: web, services: pg}\n"}},
      LoadOptions{Now()});
  EXPECT_NE(a.policy.revision, c.policy.revision);
}

TEST(LoaderTest, ReachAndServiceScopedInvariantsResolve) {
  LoadResult r = Load(
      "invariants:\n"
      "  - name: web-up\n    reach: {from: internet, to: [web, db], services: [https, pg], direct: "
      "true}\n"
      "  - name: web-any\n    reach: {from: internet, to: web}\n"
      "  - name: no-pg\n    no_path: {from: internet, to: db, services: pg}\n"
      "  - name: pg-via-web\n    via: {from: internet, to: db, through: web, services: [pg]}\n");
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  const Policy& p = r.policy;
  ASSERT_EQ(p.invariants.size(), 4u);
  const Invariant& up = p.invariants[0];
  EXPECT_EQ(up.kind, InvariantKind::kReach);
  EXPECT_TRUE(up.direct);
  EXPECT_THAT(up.from, ::testing::ElementsAre(*p.FindZone("internet")));
  EXPECT_THAT(up.to, ::testing::ElementsAre(*p.FindZone("web"), *p.FindZone("db")));
  EXPECT_THAT(up.services, ::testing::ElementsAre(*p.FindService("https"), *p.FindService("pg")));
  EXPECT_FALSE(p.invariants[1].direct);
  EXPECT_TRUE(p.invariants[1].services.empty());
  EXPECT_EQ(p.invariants[2].kind, InvariantKind::kNoPath);
  EXPECT_THAT(p.invariants[2].services, ::testing::ElementsAre(*p.FindService("pg")));
  EXPECT_EQ(p.invariants[3].kind, InvariantKind::kVia);
  EXPECT_THAT(p.invariants[3].through, ::testing::ElementsAre(*p.FindZone("web")));
  EXPECT_THAT(p.invariants[3].services, ::testing::ElementsAre(*p.FindService("pg")));
}

// A scoped invariant is another statement than the unscoped one, so it is another revision.
TEST(RevisionTest, InvariantServicesAndDirectCount) {
  auto revision = [](const std::string& invariant) {
    LoadResult r = Load("invariants:\n  - name: i\n    " + invariant + "\n");
    EXPECT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
    return r.policy.revision;
  };
  std::string plain = revision("no_path: {from: internet, to: db}");
  EXPECT_NE(plain, revision("no_path: {from: internet, to: db, services: pg}"));
  std::string reach = revision("reach: {from: internet, to: web}");
  EXPECT_NE(reach, revision("reach: {from: internet, to: web, direct: true}"));
  EXPECT_NE(reach, revision("reach: {from: internet, to: web, services: https}"));
}

const char* kPostures = R"(hosts:
  - name: db-1
    addresses: [10.2.0.5]
invariants:
  - name: web-reachable
    reach: {from: internet, to: web, services: https}
postures:
  - name: lockdown
    isolate: [web, db-1]
    allow:
      - {zone: internet, services: [https]}
      - zone: db
    keep:
      - reach: {from: internet, to: web, services: [https], direct: true}
      - web-reachable
    owner: ciso
    reason: vulnerabilities in the web applications
  - name: db-dark
    isolate: db
)";

TEST(PostureTest, Resolves) {
  LoadResult r = Load(kPostures);
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  const Policy& p = r.policy;
  ASSERT_EQ(p.postures.size(), 2u);
  const Posture& lockdown = p.postures[0];
  EXPECT_EQ(lockdown.name, "lockdown");
  EXPECT_EQ(lockdown.location.FileLineColumn(), "b.yaml:8:11");
  EXPECT_THAT(lockdown.isolate,
              ::testing::ElementsAre(Endpoint{Endpoint::Kind::kZone, *p.FindZone("web")},
                                     Endpoint{Endpoint::Kind::kHost, *p.FindHost("db-1")}));
  ASSERT_EQ(lockdown.allow.size(), 2u);
  EXPECT_EQ(lockdown.allow[0].zone, *p.FindZone("internet"));
  EXPECT_THAT(lockdown.allow[0].services, ::testing::ElementsAre(*p.FindService("https")));
  EXPECT_EQ(lockdown.allow[0].location.FileLineColumn(), "b.yaml:11:9");
  EXPECT_EQ(lockdown.allow[1].zone, *p.FindZone("db"));
  EXPECT_TRUE(lockdown.allow[1].services.empty());  // every service db had
  EXPECT_EQ(lockdown.allow[1].location.FileLineColumn(), "b.yaml:12:9");
  ASSERT_EQ(lockdown.keep.size(), 2u);
  const Invariant& inline_keep = lockdown.keep[0];
  EXPECT_EQ(inline_keep.name, "lockdown.keep[0]");
  EXPECT_EQ(inline_keep.kind, InvariantKind::kReach);
  EXPECT_TRUE(inline_keep.direct);
  EXPECT_THAT(inline_keep.to, ::testing::ElementsAre(*p.FindZone("web")));
  EXPECT_EQ(inline_keep.location.FileLineColumn(), "b.yaml:14:9");
  // A policy invariant named in `keep`: its content and name, located at the reference.
  const Invariant& named = lockdown.keep[1];
  EXPECT_EQ(named.name, "web-reachable");
  EXPECT_EQ(named.kind, InvariantKind::kReach);
  EXPECT_THAT(named.services, ::testing::ElementsAre(*p.FindService("https")));
  EXPECT_FALSE(named.direct);
  EXPECT_EQ(named.location.FileLineColumn(), "b.yaml:15:9");
  EXPECT_EQ(lockdown.owner, "ciso");
  EXPECT_EQ(lockdown.reason, "vulnerabilities in the web applications");
  EXPECT_EQ(p.FindPosture("db-dark"), &p.postures[1]);
  EXPECT_THAT(p.postures[1].isolate,
              ::testing::ElementsAre(Endpoint{Endpoint::Kind::kZone, *p.FindZone("db")}));
  EXPECT_TRUE(p.postures[1].allow.empty());
  EXPECT_TRUE(p.postures[1].keep.empty());
  // The policy's own invariants are not changed by being kept.
  ASSERT_EQ(p.invariants.size(), 1u);
  EXPECT_EQ(p.invariants[0].location.FileLineColumn(), "b.yaml:5:5");
}

TEST(PostureTest, MayBeDeclaredInAnyFile) {
  LoadResult r = LoadPolicyFromFiles({{"a.yaml", kZones},
                                      {"b.yaml", "postures:\n  - {name: one, isolate: web}\n"},
                                      {"c/d.yml", "postures:\n  - {name: two, isolate: db}\n"}},
                                     LoadOptions{Now()});
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  ASSERT_EQ(r.policy.postures.size(), 2u);
  EXPECT_EQ(r.policy.postures[1].location.file, "c/d.yml");
}

// Every part of a posture is part of its meaning, and so of the revision.
TEST(RevisionTest, PosturesCount) {
  std::string base = Load(kPostures).policy.revision;
  ASSERT_EQ(base.size(), 64u);
  auto edited = [](const std::string& from, const std::string& to) {
    std::string text = kPostures;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    LoadResult r = Load(text);
    EXPECT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
    return r.policy.revision;
  };
  EXPECT_NE(base, edited("isolate: [web, db-1]", "isolate: [web]"));
  EXPECT_NE(base, edited("- zone: db", "- {zone: db, services: pg}"));
  EXPECT_NE(base, edited("direct: true}", "direct: false}"));
  EXPECT_NE(base, edited("      - web-reachable\n", ""));
  EXPECT_NE(base, edited("owner: ciso", "owner: cio"));
  EXPECT_NE(base, edited("reason: vulnerabilities", "reason: holes"));
  EXPECT_NE(base, edited("name: db-dark", "name: db-off"));
  // Order of lists and of postures, and formatting, carry no meaning.
  EXPECT_EQ(base, edited("isolate: [web, db-1]", "isolate:\n      - db-1\n      - web"));
  EXPECT_EQ(base, edited("      - {zone: internet, services: [https]}\n      - zone: db\n",
                         "      - zone: db\n      - {services: https, zone: internet}\n"));
  std::string text = kPostures;
  size_t second = text.find("  - name: db-dark");
  std::string swapped =
      text.substr(0, text.find("  - name: lockdown")) + text.substr(second) +
      text.substr(text.find("  - name: lockdown"), second - text.find("  - name: lockdown"));
  LoadResult r = Load(swapped);
  ASSERT_FALSE(r.diagnostics.HasErrors()) << FormatText(r.diagnostics, r.sources);
  EXPECT_EQ(base, r.policy.revision);
  EXPECT_EQ(base, Load(kPostures).policy.revision);  // deterministic
}

TEST(RevisionTest, APolicyWithoutPosturesHasNoPostureLine) {
  LoadResult r = Load("flows:\n  - {from: internet, to: web, services: https}\n");
  ASSERT_FALSE(r.diagnostics.HasErrors());
  EXPECT_THAT(NormalisedPolicy(r.policy), ::testing::Not(::testing::HasSubstr("posture")));
  EXPECT_THAT(NormalisedPolicy(Load(kPostures).policy),
              ::testing::HasSubstr("posture \"lockdown\" "));
}

// Issue 9: a prefix with host bits made its host unplaceable and every reference to that host
// "unknown (did you mean db?)"; the real error came last.
const char* kBrokenZones = R"(zones:
  - name: internet
    external: true
    cidrs: [0.0.0.0/0]
  - name: web
    cidrs: [10.1.0.0/24]
  - name: db
    cidrs: [10.2.0.1/24]
services:
  - name: pg
    ports: [tcp/5432]
)";

std::vector<std::string> Lines(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.diagnostics.items()) {
    out.push_back(absl::StrCat(d.location.FileLineColumn(), " ", d.code, ": ", d.message));
  }
  return out;
}

LoadResult LoadSorted(std::vector<SourceFile> files) {
  LoadResult r = LoadPolicyFromFiles(std::move(files), LoadOptions{Now()});
  r.diagnostics.Sort();
  return r;
}

TEST(RootCauseTest, AReferenceToAHostBrokenByItsZoneNamesTheZoneError) {
  LoadResult r = LoadSorted(
      {{"zones.yaml", kBrokenZones},
       {"hosts.yaml",
        "hosts:\n  - name: db-1\n    addresses: [10.2.0.10]\n"
        "  - name: db-2\n    zone: db\n    addresses: [10.2.0.11]\n"},
       {"flows.yaml",
        "flows:\n  - {from: web, to: db-1, services: pg}\n  - {from: db-1, to: web, services: "
        "pg}\n  - {from: web, to: [db-2, web], services: pg}\n"}});
  EXPECT_THAT(
      Lines(r),
      ::testing::ElementsAre(
          "zones.yaml:8:13 invalid-cidr: `10.2.0.1/24` has host bits set; write `10.2.0.0/24`",
          "hosts.yaml:3:17 address-outside-zone: host `db-1` cannot be placed: its address "
          "10.2.0.10 lies in `10.2.0.1/24` at zones.yaml:8:13, which is not a valid prefix; fix "
          "that prefix first",
          "hosts.yaml:6:17 address-outside-zone: host `db-2` cannot be placed: its address "
          "10.2.0.11 lies in `10.2.0.1/24` at zones.yaml:8:13, which is not a valid prefix; fix "
          "that prefix first",
          "flows.yaml:2:21 unknown-ref: `db-1` is undefined because of the error at "
          "zones.yaml:8:13 (the host could not be defined); fix that error first. Its 2 "
          "references are not checked: flows.yaml:2:21, flows.yaml:3:12",
          "flows.yaml:4:22 unknown-ref: `db-2` is undefined because of the error at "
          "zones.yaml:8:13 (the host could not be defined); fix that error first. This "
          "reference is not checked"));
  EXPECT_TRUE(r.policy.flows.empty());  // no flow keeps a dangling half
}

TEST(RootCauseTest, AnUnrelatedHostErrorIsTheCause) {
  LoadResult r = LoadSorted(
      {{"zones.yaml", kBrokenZones},
       {"hosts.yaml", "hosts:\n  - name: web-1\n    zone: wbe\n    addresses: [10.1.0.10]\n"},
       {"flows.yaml", "flows:\n  - {from: web-1, to: web, services: pg}\n"}});
  std::vector<std::string> lines = Lines(r);
  ASSERT_EQ(lines.size(), 3u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[1], "hosts.yaml:3:11 unknown-ref: unknown zone `wbe` (did you mean `web`?)");
  EXPECT_EQ(lines[2],
            "flows.yaml:2:12 unknown-ref: `web-1` is undefined because of the error at "
            "hosts.yaml:3:11 (the host could not be defined); fix that error first. This "
            "reference is not checked");
}

TEST(RootCauseTest, BrokenServicesAndInvariantsAreNotUnknown) {
  LoadResult r = LoadSorted(
      {{"a.yaml", kZones},
       {"b.yaml",
        "services:\n  - name: ssh\nflows:\n  - {from: internet, to: web, services: [https, ssh]}\n"
        "invariants:\n  - name: web-up\n    reach: {from: internet, to: wbe}\n"
        "postures:\n  - {name: p, isolate: web, keep: [web-up]}\n"}});
  EXPECT_THAT(
      Lines(r),
      ::testing::ElementsAre(
          "b.yaml:2:5 parse-error: service `ssh` needs a `ports`",
          "b.yaml:4:49 unknown-ref: `ssh` is undefined because of the error at b.yaml:2:5 (the "
          "service could not be defined); fix that error first. This reference is not checked",
          "b.yaml:7:33 unknown-ref: unknown zone `wbe` (did you mean `web`?)",
          "b.yaml:9:36 unknown-ref: `web-up` is undefined because of the error at b.yaml:7:33 "
          "(the invariant could not be defined); fix that error first. This reference is not "
          "checked"));
}

TEST(RootCauseTest, ManyReferencesAreCountedInOneDiagnostic) {
  std::string flows = "flows:\n";
  for (int i = 0; i < 30; ++i) flows += "  - {from: web, to: db-1, services: pg}\n";
  LoadResult r = LoadSorted({{"zones.yaml", kBrokenZones},
                             {"hosts.yaml", "hosts:\n  - {name: db-1, addresses: [10.2.0.10]}\n"},
                             {"flows.yaml", flows}});
  ASSERT_EQ(r.diagnostics.error_count(), 3u) << ::testing::PrintToString(Lines(r));
  EXPECT_THAT(r.diagnostics.items()[2].message,
              ::testing::HasSubstr("Its 30 references are not checked: flows.yaml:2:21, "));
  EXPECT_THAT(r.diagnostics.items()[2].message,
              ::testing::EndsWith("flows.yaml:11:21 and 20 more"));
}

// Parse errors, then zones, then the other definitions, then references, whatever the files'
// order; warnings keep file order after the errors.
TEST(RootCauseTest, ErrorsAreOrderedByPhase) {
  LoadResult r = LoadSorted({
      {"a.yaml",
       "flows:\n  - {from: internet, to: nowhere, services: https}\n"
       "  - {name: old, from: internet, to: web, services: https, expires: "
       "2020-01-01T00:00:00Z}\n"},
      {"b.yaml", "hosts:\n  - {name: h, addresses: [10.7.0.1]}\n"},
      {"c.yaml", "zones:\n  - {name: bad, cidrs: [10.8.0.1/24]}\n"},
      {"d.yaml", "servces: []\n"},
      {"z.yaml", kZones},
  });
  std::vector<std::string> codes;
  for (const Diagnostic& d : r.diagnostics.items()) {
    codes.push_back(absl::StrCat(d.location.file, " ", d.code));
  }
  EXPECT_THAT(codes, ::testing::ElementsAre("d.yaml unknown-key", "c.yaml invalid-cidr",
                                            "b.yaml address-outside-zone", "a.yaml unknown-ref",
                                            "a.yaml expired-flow"));
}

TEST(RootCauseTest, AValidPolicyKeepsFileOrder) {
  DiagnosticList list;
  list.Warning({"b.yaml", 1, 1}, "w", "");
  list.SetPhase(Phase::kReferences);
  list.Warning({"a.yaml", 9, 1}, "w", "");
  list.SetPhase(Phase::kAnalysis);
  list.Error({"a.yaml", 2, 1}, "e", "");
  list.SetPhase(Phase::kZones);
  list.Error({"c.yaml", 1, 1}, "e", "");
  list.Sort();
  std::vector<std::string> at;
  for (const Diagnostic& d : list.items()) at.push_back(d.location.FileLine());
  EXPECT_THAT(at, ::testing::ElementsAre("c.yaml:1", "a.yaml:2", "a.yaml:9", "b.yaml:1"));
}

TEST(LoaderTest, EmptyDirectoryIsAnError) {
  LoadResult r = LoadPolicyFromFiles({}, LoadOptions{Now()});
  EXPECT_TRUE(r.diagnostics.HasErrors());
  EXPECT_EQ(r.diagnostics.items()[0].code, "parse-error");
}

}  // namespace
}  // namespace polder

namespace polder {
namespace {

TEST(LoaderTest, AHundredThousandHostPolicyIsWithinTheNodeLimit) {
  // Spec §10: 4,000,000 nodes; a 100,000-host policy has about 1.1 million.
  std::string part = "flows: [";
  for (int i = 0; i < 600'000; ++i) part += "1,";
  part += "1]\n";
  LoadResult r = LoadPolicyFromFiles({{"a.yaml", part}, {"b.yaml", part}}, LoadOptions{Now()});
  for (const Diagnostic& d : r.diagnostics.items())
    EXPECT_NE(d.code, "limit-exceeded") << d.message;
}

TEST(LoaderTest, NodeLimitCountsAcrossFiles) {
  // Two files of 2,100,000 nodes each: each is fine alone, together too many.
  std::string half = "flows: [";
  for (int i = 0; i < 2'100'000; ++i) half += "1,";
  half += "1]\n";
  LoadResult r = LoadPolicyFromFiles({{"a.yaml", half}, {"b.yaml", half}}, LoadOptions{Now()});
  ASSERT_TRUE(r.diagnostics.HasErrors());
  EXPECT_EQ(r.diagnostics.items()[0].code, "limit-exceeded");
  EXPECT_EQ(r.diagnostics.items()[0].location.file, "b.yaml");
}

TEST(LoaderTest, NodeLimitStopsAtTheFirstFileThatCrossesIt) {
  // Five files of 1,500,000 nodes: the third crosses the limit, whichever thread gets there
  // first, and the files after it are not held in full.
  std::string part = "flows: [";
  for (int i = 0; i < 1'500'000; ++i) part += "1,";
  part += "1]\n";
  std::vector<SourceFile> files;
  for (char c = 'a'; c < 'f'; ++c) files.push_back({std::string(1, c) + ".yaml", part});
  LoadResult r = LoadPolicyFromFiles(files, LoadOptions{Now()});
  ASSERT_TRUE(r.diagnostics.HasErrors());
  EXPECT_EQ(r.diagnostics.items()[0].code, "limit-exceeded");
  EXPECT_EQ(r.diagnostics.items()[0].location.file, "c.yaml");
}

TEST(LoaderTest, ManyKeysInOneMappingAreCheckedInLinearTime) {
  // 200,000 unknown keys: each is an error (reported up to the bound), none compared with
  // every other.
  std::string doc;
  for (int i = 0; i < 200'000; ++i) doc += "k" + std::to_string(i) + ": 1\n";
  auto start = std::chrono::steady_clock::now();
  LoadResult r = LoadPolicyFromFiles({{"a.yaml", doc}}, LoadOptions{Now()});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.diagnostics.HasErrors());
  EXPECT_EQ(r.diagnostics.items()[0].code, "unknown-key");
  EXPECT_LT(seconds, 10.0);  // quadratic took minutes
}

}  // namespace
}  // namespace polder
