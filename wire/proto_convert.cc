#include "wire/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "wire/sha256.h"

namespace polder::wire {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  // Split at whole seconds towards the past, so nanos is always in [0, 1e9)
  // as google.protobuf.Timestamp requires, also before 1970.
  int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62'135'596'800 && t.seconds() <= 253'402'300'799 && t.nanos() >= 0 &&
         t.nanos() <= 999'999'999;
}

v1::Mode ToProto(Mode mode) { return mode == Mode::kAudit ? v1::MODE_AUDIT : v1::MODE_ENFORCE; }

std::optional<Mode> FromProto(v1::Mode mode) {
  switch (mode) {
    case v1::MODE_ENFORCE:
      return Mode::kEnforce;
    case v1::MODE_AUDIT:
      return Mode::kAudit;
    default:
      return std::nullopt;
  }
}

}  // namespace polder::wire

namespace polder::wire {
namespace {

absl::Status Invalid(absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", why));
}

void PartTo(const NftKeyPart& p, v1::NftKeyPart* out) {
  out->set_from(p.from);
  if (p.to != p.from) out->set_to(p.to);
}

absl::StatusOr<NftKeyPart> PartFrom(const v1::NftKeyPart& p, absl::string_view where) {
  NftKeyPart out{p.from(), p.to().empty() ? p.from() : p.to()};
  if (out.from.empty()) return Invalid(where, "empty value");
  if (out.from.size() != out.to.size()) {
    return Invalid(where, absl::StrCat("range ends of different lengths (", out.from.size(),
                                       " and ", out.to.size(), " bytes)"));
  }
  return out;
}

// The C++ enums are numbered from 0 in proto order; the proto ones from 1 (0 is unspecified).
v1::NftKeyType KeyTypeTo(NftKeyType t) {
  return static_cast<v1::NftKeyType>(static_cast<int>(t) + 1);
}
v1::NftField FieldTo(NftField f) { return static_cast<v1::NftField>(static_cast<int>(f) + 1); }

absl::StatusOr<NftKeyType> KeyTypeFrom(int t, absl::string_view where) {
  if (t < v1::NFT_KEY_TYPE_IPV4_ADDR || t > v1::NFT_KEY_TYPE_CT_STATE) {
    return Invalid(where, absl::StrCat("unknown key type ", t));
  }
  return static_cast<NftKeyType>(t - 1);
}

absl::StatusOr<NftField> FieldFrom(int f, absl::string_view where) {
  if (f < v1::NFT_FIELD_IP4_SADDR || f > v1::NFT_FIELD_CT_STATE) {
    return Invalid(where, absl::StrCat("unknown field ", f));
  }
  return static_cast<NftField>(f - 1);
}

void VerdictTo(const NftVerdictData& v, v1::NftVerdictData* out) {
  out->set_verdict(static_cast<v1::NftVerdict>(v.verdict));
  out->set_chain(v.chain);
}

absl::StatusOr<NftVerdictData> VerdictFrom(const v1::NftVerdictData& v, absl::string_view where) {
  if (v.verdict() < v1::NFT_VERDICT_NONE || v.verdict() > v1::NFT_VERDICT_RETURN) {
    return Invalid(where, absl::StrCat("unknown verdict ", v.verdict()));
  }
  NftVerdictData out{static_cast<NftVerdict>(v.verdict()), v.chain()};
  bool jumps = out.verdict == NftVerdict::kJump || out.verdict == NftVerdict::kGoto;
  if (jumps && out.chain.empty()) return Invalid(where, "jump or goto without a chain");
  if (!jumps && !out.chain.empty())
    return Invalid(where, "a chain given for a verdict that is not jump or goto");
  return out;
}

absl::StatusOr<std::vector<NftField>> FieldsFrom(const google::protobuf::RepeatedField<int>& fields,
                                                 absl::string_view where) {
  std::vector<NftField> out;
  for (int f : fields) {
    auto field = FieldFrom(f, where);
    if (!field.ok()) return field.status();
    out.push_back(*field);
  }
  return out;
}

absl::StatusOr<NftSet> SetFrom(const v1::NftSet& s) {
  std::string where = absl::StrCat("set ", s.name());
  if (s.name().empty()) return Invalid("set", "no name");
  NftSet out;
  out.name = s.name();
  for (int t : s.key()) {
    auto type = KeyTypeFrom(t, where);
    if (!type.ok()) return type.status();
    out.key.push_back(*type);
  }
  if (out.key.empty()) return Invalid(where, "no key type");
  out.verdict_map = s.verdict_map();
  out.interval = s.interval();
  out.dynamic = s.dynamic();
  out.counter = s.counter();
  out.size = s.size();
  out.timeout_s = s.timeout_s();
  out.elements.reserve(s.elements_size());
  for (int i = 0; i < s.elements_size(); ++i) {
    const v1::NftElement& e = s.elements(i);
    std::string at = absl::StrCat(where, ": element ", i + 1);
    if (static_cast<size_t>(e.key_size()) != out.key.size()) {
      return Invalid(at, absl::StrCat(e.key_size(), " key parts for a key of ", out.key.size()));
    }
    NftElement& el = out.elements.emplace_back();
    el.key.reserve(e.key_size());
    for (const v1::NftKeyPart& p : e.key()) {
      auto part = PartFrom(p, at);
      if (!part.ok()) return part.status();
      el.key.push_back(*std::move(part));
    }
    auto data = VerdictFrom(e.data(), at);
    if (!data.ok()) return data.status();
    if (out.verdict_map != (data->verdict != NftVerdict::kNone)) {
      return Invalid(at, out.verdict_map ? "a verdict map element needs a verdict"
                                         : "a verdict on an element of a plain set");
    }
    el.data = *std::move(data);
    el.counter = e.counter();
    el.packets = e.packets();
    el.bytes = e.bytes();
  }
  return out;
}

absl::StatusOr<NftRule> RuleFrom(const v1::NftRule& r, absl::string_view where) {
  NftRule out;
  out.comment = r.comment();
  for (const v1::NftMatch& m : r.matches()) {
    if (!v1::NftMatch::Kind_IsValid(m.kind())) {
      return Invalid(where, absl::StrCat("unknown match kind ", m.kind()));
    }
    NftMatch& o = out.matches.emplace_back();
    o.kind = static_cast<NftMatch::Kind>(m.kind());
    auto fields = FieldsFrom(m.fields(), where);
    if (!fields.ok()) return fields.status();
    if (fields->empty()) return Invalid(where, "a match without a field");
    o.fields = *std::move(fields);
    for (const v1::NftKeyPart& p : m.values()) {
      auto part = PartFrom(p, where);
      if (!part.ok()) return part.status();
      o.values.push_back(*std::move(part));
    }
    o.set = m.set();
    o.negate = m.negate();
    bool named = o.kind == NftMatch::Kind::kInSet || o.kind == NftMatch::Kind::kVmap;
    if (named && o.set.empty()) return Invalid(where, "a set lookup without a set name");
    if (!named && o.values.empty()) return Invalid(where, "a comparison without a value");
  }
  for (const v1::NftStatement& s : r.statements()) {
    NftStatement& o = out.statements.emplace_back();
    switch (s.kind()) {
      case v1::NftStatement::KIND_VERDICT:
        o.kind = NftStatement::Kind::kVerdict;
        break;
      case v1::NftStatement::KIND_COUNTER:
        o.kind = NftStatement::Kind::kCounter;
        break;
      case v1::NftStatement::KIND_NAMED_COUNTER:
        o.kind = NftStatement::Kind::kNamedCounter;
        break;
      case v1::NftStatement::KIND_LIMIT:
        o.kind = NftStatement::Kind::kLimit;
        break;
      case v1::NftStatement::KIND_LOG:
        o.kind = NftStatement::Kind::kLog;
        break;
      case v1::NftStatement::KIND_SET_UPDATE:
        o.kind = NftStatement::Kind::kSetUpdate;
        break;
      default:
        return Invalid(where, absl::StrCat("unknown statement kind ", s.kind()));
    }
    o.name = s.name();
    o.rate = s.rate();
    o.burst = s.burst();
    if (s.has_log_group()) {
      if (s.log_group() > 0xffff) return Invalid(where, "log group above 65535");
      o.log_group = static_cast<uint16_t>(s.log_group());
    }
    auto fields = FieldsFrom(s.fields(), where);
    if (!fields.ok()) return fields.status();
    o.fields = *std::move(fields);
    auto verdict = VerdictFrom(s.verdict(), where);
    if (!verdict.ok()) return verdict.status();
    o.verdict = *std::move(verdict);
    if (o.kind == NftStatement::Kind::kVerdict && o.verdict.verdict == NftVerdict::kNone) {
      return Invalid(where, "a verdict statement without a verdict");
    }
  }
  return out;
}

v1::NftStatement::Kind StatementKindTo(NftStatement::Kind k) {
  switch (k) {
    case NftStatement::Kind::kCounter:
      return v1::NftStatement::KIND_COUNTER;
    case NftStatement::Kind::kNamedCounter:
      return v1::NftStatement::KIND_NAMED_COUNTER;
    case NftStatement::Kind::kLimit:
      return v1::NftStatement::KIND_LIMIT;
    case NftStatement::Kind::kLog:
      return v1::NftStatement::KIND_LOG;
    case NftStatement::Kind::kSetUpdate:
      return v1::NftStatement::KIND_SET_UPDATE;
    case NftStatement::Kind::kVerdict:
      return v1::NftStatement::KIND_VERDICT;
  }
  return v1::NftStatement::KIND_VERDICT;
}

}  // namespace

void ToProto(const NftRuleset& ruleset, v1::NftRuleset* out) {
  out->Clear();
  out->mutable_sets()->Reserve(static_cast<int>(ruleset.sets.size()));
  for (const NftSet& s : ruleset.sets) {
    v1::NftSet* o = out->add_sets();
    o->set_name(s.name);
    for (NftKeyType t : s.key) o->add_key(KeyTypeTo(t));
    o->set_verdict_map(s.verdict_map);
    o->set_interval(s.interval);
    o->set_dynamic(s.dynamic);
    o->set_counter(s.counter);
    o->set_size(s.size);
    o->set_timeout_s(s.timeout_s);
    o->mutable_elements()->Reserve(static_cast<int>(s.elements.size()));
    for (const NftElement& e : s.elements) {
      v1::NftElement* oe = o->add_elements();
      for (const NftKeyPart& p : e.key) PartTo(p, oe->add_key());
      if (e.data.verdict != NftVerdict::kNone) VerdictTo(e.data, oe->mutable_data());
      oe->set_counter(e.counter);
      oe->set_packets(e.packets);
      oe->set_bytes(e.bytes);
    }
  }
  for (const NftNamedCounter& c : ruleset.counters) {
    v1::NftNamedCounter* o = out->add_counters();
    o->set_name(c.name);
    o->set_packets(c.packets);
    o->set_bytes(c.bytes);
  }
  for (const NftChain& c : ruleset.chains) {
    v1::NftChain* o = out->add_chains();
    o->set_name(c.name);
    o->set_base(c.base);
    o->set_hook(c.hook);
    o->set_policy(static_cast<v1::NftVerdict>(c.policy));
    for (const NftRule& r : c.rules) {
      v1::NftRule* orule = o->add_rules();
      orule->set_comment(r.comment);
      for (const NftMatch& m : r.matches) {
        v1::NftMatch* om = orule->add_matches();
        om->set_kind(static_cast<v1::NftMatch::Kind>(m.kind));
        for (NftField f : m.fields) om->add_fields(FieldTo(f));
        for (const NftKeyPart& p : m.values) PartTo(p, om->add_values());
        om->set_set(m.set);
        om->set_negate(m.negate);
      }
      for (const NftStatement& s : r.statements) {
        v1::NftStatement* os = orule->add_statements();
        os->set_kind(StatementKindTo(s.kind));
        os->set_name(s.name);
        os->set_rate(s.rate);
        os->set_burst(s.burst);
        if (s.log_group) os->set_log_group(*s.log_group);
        for (NftField f : s.fields) os->add_fields(FieldTo(f));
        if (s.verdict.verdict != NftVerdict::kNone) VerdictTo(s.verdict, os->mutable_verdict());
      }
    }
  }
}

absl::StatusOr<NftRuleset> FromProto(const v1::NftRuleset& ruleset) {
  NftRuleset out;
  out.sets.reserve(ruleset.sets_size());
  for (const v1::NftSet& s : ruleset.sets()) {
    auto set = SetFrom(s);
    if (!set.ok()) return set.status();
    out.sets.push_back(*std::move(set));
  }
  for (const v1::NftNamedCounter& c : ruleset.counters()) {
    if (c.name().empty()) return Invalid("counter", "no name");
    out.counters.push_back({c.name(), c.packets(), c.bytes()});
  }
  for (const v1::NftChain& c : ruleset.chains()) {
    if (c.name().empty()) return Invalid("chain", "no name");
    NftChain& o = out.chains.emplace_back();
    o.name = c.name();
    o.base = c.base();
    o.hook = c.hook();
    if (c.policy() != v1::NFT_VERDICT_ACCEPT && c.policy() != v1::NFT_VERDICT_DROP) {
      return Invalid(absl::StrCat("chain ", c.name()), "policy must be accept or drop");
    }
    o.policy = static_cast<NftVerdict>(c.policy());
    if (o.base && o.hook.empty())
      return Invalid(absl::StrCat("chain ", c.name()), "a base chain without a hook");
    for (int i = 0; i < c.rules_size(); ++i) {
      auto rule = RuleFrom(c.rules(i), absl::StrCat("chain ", c.name(), ": rule ", i + 1));
      if (!rule.ok()) return rule.status();
      o.rules.push_back(*std::move(rule));
    }
  }
  return out;
}

std::string SerializeRulesetFile(const RulesetFile& file) {
  v1::RulesetFile msg;
  msg.set_host(file.header.host);
  msg.set_revision(file.header.revision);
  msg.set_mode(ToProto(file.header.mode));
  ToProto(file.ruleset, msg.mutable_ruleset());
  // Deterministic: the same ruleset gives the same bytes (goldens, hashes).
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  msg.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

absl::StatusOr<RulesetFile> ParseRulesetFile(absl::string_view bytes) {
  v1::RulesetFile msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        "not a structured ruleset (polder.v1.RulesetFile, from `polder compile --format wire`)");
  }
  RulesetFile out;
  if (msg.host().empty()) return Invalid("ruleset file", "no host");
  if (!IsSha256Hex(msg.revision())) return Invalid("ruleset file", "revision is not SHA-256 hex");
  std::optional<Mode> mode = FromProto(msg.mode());
  if (!mode) return Invalid("ruleset file", "no mode (enforce or audit)");
  out.header = {msg.host(), msg.revision(), *mode};
  auto rs = FromProto(msg.ruleset());
  if (!rs.ok()) return rs.status();
  out.ruleset = *std::move(rs);
  return out;
}

}  // namespace polder::wire
