#include "compiler/frontend/resolver.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/frontend/did_you_mean.h"
#include "compiler/frontend/yaml_access.h"
#include "compiler/model/zone_map.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

const std::vector<std::string> kRootKeys = {"version",  "settings", "zones",      "hosts",
                                            "services", "flows",    "invariants", "postures"};
const std::vector<std::string> kZoneKeys = {"name", "external", "cidrs", "description"};
const std::vector<std::string> kHostKeys = {"name", "addresses", "zone"};
const std::vector<std::string> kServiceKeys = {"name", "ports"};
const std::vector<std::string> kFlowKeys = {"name",    "action",  "from",   "to",    "services",
                                            "sources", "expires", "reason", "owner", "ticket"};
const std::vector<std::string> kInvariantKeys = {"name", "no_path",  "isolate", "except",
                                                 "via",  "exposure", "reach"};
const std::vector<std::string> kPostureKeys = {"name", "isolate", "allow",
                                               "keep", "owner",   "reason"};
const std::vector<std::string> kPostureAllowKeys = {"zone", "services"};
const std::vector<std::string> kSettingsKeys = {"controller", "host_dhcp", "log_denied", "mode"};
const std::vector<std::string> kControllerKeys = {"addresses", "port"};

// A declaration awaiting resolution: its node and the file it is in.
struct Decl {
  const YamlNode* node;
  const std::string* file;
};

// Hands each item of a list, parsed by T::Parse (Prefix, Address,
// ServicePort), to `use` with its node, in list order. An item that is not
// a string or does not parse is reported (a parse failure as
// `invalid_code`) and skipped. Returns whether every item parsed.
template <typename T, typename Use>
bool ParseItems(YamlAccess& a, const std::vector<const YamlNode*>& items, const char* item_what,
                const char* invalid_code, Use use) {
  bool all_parsed = true;
  for (const YamlNode* item : items) {
    std::optional<std::string> text = a.String(*item, item_what);
    if (!text) {
      all_parsed = false;
      continue;
    }
    absl::StatusOr<T> value = T::Parse(*text);
    if (!value.ok()) {
      a.Error(*item, invalid_code, std::string(value.status().message()));
      all_parsed = false;
      continue;
    }
    use(*item, *value);
  }
  return all_parsed;
}

// The items of a list that parse, for lists whose items need no further
// checks.
template <typename T>
std::vector<T> ParseAll(YamlAccess& a, const std::vector<const YamlNode*>& items,
                        const char* item_what, const char* invalid_code) {
  std::vector<T> out;
  ParseItems<T>(a, items, item_what, invalid_code,
                [&](const YamlNode&, const T& value) { out.push_back(value); });
  return out;
}

// The message for a second declaration of a name that must be unique.
std::string AlreadyDeclared(const char* what, const std::string& name,
                            const SourceLocation& first) {
  return absl::StrCat(what, " `", name, "` is already declared at ", first.FileLineColumn());
}

struct AddressHash {
  size_t operator()(const Address& a) const {
    return absl::Hash<std::tuple<int, uint64_t, uint64_t>>()(
        {static_cast<int>(a.family), absl::Uint128High64(a.value), absl::Uint128Low64(a.value)});
  }
};

class Resolver {
 public:
  Resolver(absl::Time now, DiagnosticList& diagnostics) : diagnostics_(diagnostics) {
    policy_.now = now;
    policy_.services.push_back(BuiltinAnyService());
    service_ids_.emplace(policy_.services.back().name, 0);
  }

  Policy Run(const std::vector<ParsedFile>& files) {
    // The phases order the errors: what is wrong in a definition before what it breaks.
    diagnostics_.SetPhase(Phase::kParse);
    for (const ParsedFile& f : files) CollectFile(f);
    diagnostics_.SetPhase(Phase::kZones);
    for (const Decl& d : zone_decls_) ResolveZone(d);
    ClassifyZones();
    diagnostics_.SetPhase(Phase::kDefinitions);
    for (const Decl& d : host_decls_) ResolveHost(d);
    for (const Decl& d : service_decls_) ResolveService(d);
    if (settings_decl_) ResolveSettings(*settings_decl_);
    diagnostics_.SetPhase(Phase::kReferences);
    for (const Decl& d : flow_decls_) ResolveFlow(d);
    for (const Decl& d : invariant_decls_) ResolveInvariant(d);
    // After the invariants: a posture's `keep` may name one of them.
    for (const Decl& d : posture_decls_) ResolvePosture(d);
    ReportBrokenReferences();
    return std::move(policy_);
  }

 private:
  YamlAccess Access(const Decl& d) { return YamlAccess(*d.file, diagnostics_); }

  void CollectFile(const ParsedFile& f) {
    YamlAccess a(f.path, diagnostics_);
    if (!a.CheckMap(*f.root, kRootKeys, "a policy file")) return;
    for (const auto& [key, value] : f.root->entries) {
      if (!key.IsScalar()) continue;
      Collect(a, f, key.scalar, value);
    }
  }

  void Collect(YamlAccess& a, const ParsedFile& f, const std::string& key, const YamlNode& value) {
    auto add_all = [&](std::vector<Decl>& into, const char* what) {
      for (const YamlNode* item : a.List(value, absl::StrCat("`", what, "`"), false)) {
        into.push_back({item, &f.path});
      }
    };
    if (key == "version") {
      CheckVersion(a, value);
    } else if (key == "settings") {
      if (settings_decl_) {
        a.Error(value, "duplicate-name",
                absl::StrCat("`settings` is already given in ", *settings_decl_->file,
                             "; keep settings in one file"));
      } else {
        settings_decl_ = Decl{&value, &f.path};
      }
    } else if (key == "zones") {
      add_all(zone_decls_, "zones");
    } else if (key == "hosts") {
      add_all(host_decls_, "hosts");
    } else if (key == "services") {
      add_all(service_decls_, "services");
    } else if (key == "flows") {
      add_all(flow_decls_, "flows");
    } else if (key == "invariants") {
      add_all(invariant_decls_, "invariants");
    } else if (key == "postures") {
      add_all(posture_decls_, "postures");
    }
  }

  // Spec §1: the integer 1. Says why another value is wrong, since "from 1 to 1" does not.
  void CheckVersion(YamlAccess& a, const YamlNode& value) {
    if (value.IsScalar() && value.plain && value.scalar == "1") return;
    long number = 0;
    const char* end = value.scalar.data() + value.scalar.size();
    bool numeric = value.IsScalar() && !value.scalar.empty() &&
                   std::from_chars(value.scalar.data(), end, number).ptr == end;
    if (value.IsScalar() && !value.plain && numeric) {
      a.Error(value, "parse-error",
              absl::StrCat("`version` is the number 1, but `", value.scalar,
                           "` is quoted, which makes it a string; write `version: 1`"));
    } else if (value.IsScalar() && numeric) {
      a.Error(value, "parse-error",
              absl::StrCat("`version: ", value.scalar,
                           "`: only version 1 of the policy language exists; write `version: 1` "
                           "or leave the key out"));
    } else {
      a.Error(value, "parse-error",
              absl::StrCat("`version` is the number 1, not ", DescribeValue(value),
                           "; write `version: 1` or leave the key out"));
    }
  }

  static std::string DescribeValue(const YamlNode& n) {
    if (n.IsScalar()) return absl::StrCat("`", n.scalar, "`");
    return n.IsMap() ? "a mapping" : n.IsSequence() ? "a list" : "nothing";
  }

  // Zones and hosts share one namespace (a flow's from/to may name either).
  // Reports a clash; the name is recorded only by RecordEndpointName, once
  // the zone or host is known to be valid, so indices stay consistent.
  bool EndpointNameFree(YamlAccess& a, const YamlNode& name_node, const std::string& name,
                        Endpoint::Kind kind) {
    auto it = endpoint_names_.find(name);
    if (it != endpoint_names_.end()) {
      const SourceLocation& first = it->second.second;
      a.Error(name_node, "duplicate-name",
              absl::StrCat(kind == Endpoint::Kind::kZone ? "zone" : "host", " name `", name,
                           "` is already used at ", first.FileLineColumn(),
                           "; zones and hosts need distinct names"));
      return false;
    }
    return true;
  }

  void RecordEndpointName(YamlAccess& a, const YamlNode& name_node, const std::string& name,
                          Endpoint e) {
    endpoint_names_.try_emplace(name, e, a.At(name_node));
  }

  // The common start of every named declaration: a mapping with only known
  // keys and a valid `name`. `what` is e.g. "a zone", `label` "zone name".
  struct Named {
    const YamlNode* name_node;
    std::string name;
  };
  std::optional<Named> ReadNamed(YamlAccess& a, const YamlNode& n,
                                 const std::vector<std::string>& keys, const char* what,
                                 const char* label) {
    if (!a.CheckMap(n, keys, what)) return std::nullopt;
    const YamlNode* name_node = a.Require(n, "name", what);
    if (!name_node) return std::nullopt;
    std::optional<std::string> name = a.Name(*name_node, label);
    if (!name) return std::nullopt;
    return Named{name_node, *name};
  }

  void ResolveZone(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    std::optional<Named> named = ReadNamed(a, n, kZoneKeys, "a zone", "zone name");
    if (!named) return;
    const auto& [name_node, name] = *named;
    Zone z;
    z.name = name;
    z.location = a.At(*name_node);
    if (const YamlNode* ext = a.Find(n, "external"))
      z.external = a.Bool(*ext, "`external`").value_or(false);
    if (const YamlNode* desc = a.Find(n, "description"))
      z.description = a.String(*desc, "`description`").value_or("");
    ZoneId id = static_cast<ZoneId>(policy_.zones.size());
    if (!EndpointNameFree(a, *name_node, z.name, Endpoint::Kind::kZone)) return;
    RecordEndpointName(a, *name_node, z.name, {Endpoint::Kind::kZone, id});
    if (const YamlNode* cidrs = a.Require(n, "cidrs", absl::StrCat("zone `", z.name, "`"))) {
      ResolveCidrs(a, *cidrs, id, z);
    }
    policy_.zones.push_back(std::move(z));
  }

  void ResolveCidrs(YamlAccess& a, const YamlNode& cidrs, ZoneId id, Zone& z) {
    std::vector<const YamlNode*> items = a.List(cidrs, "`cidrs`", false);
    if (items.empty() && (cidrs.IsSequence() || cidrs.IsNull())) {
      a.Error(cidrs, "invalid-cidr",
              absl::StrCat("zone `", z.name, "` needs at least one prefix in `cidrs`"));
    }
    ParseItems<Prefix>(
        a, items, "a prefix", "invalid-cidr", [&](const YamlNode& item, const Prefix& p) {
          auto [it, fresh] = prefix_owner_.try_emplace(p, id, a.At(item));
          if (!fresh) {
            std::string at = it->second.second.FileLineColumn();
            a.Error(item, "invalid-cidr",
                    it->second.first == id
                        ? absl::StrCat("prefix ", p.ToString(), " is listed twice in zone `",
                                       z.name, "` (first at ", at, "); remove one")
                        : absl::StrCat("prefix ", p.ToString(), " is already claimed at ", at,
                                       "; a prefix may belong to one zone only"));
            return;
          }
          z.cidrs.push_back(p);
          z.cidr_locations.push_back(a.At(item));
        });
    // A prefix with host bits says plainly which addresses were meant: remember them, so that
    // a host there is reported as caused by this prefix, not as an address in no zone.
    for (const YamlNode* item : items) {
      if (!item->IsScalar() || Prefix::Parse(item->scalar).ok()) continue;
      if (std::optional<AddressRange> meant = MeantRange(item->scalar)) {
        broken_prefixes_.push_back({*meant, item->scalar, a.At(*item)});
      }
    }
  }

  // The addresses "10.2.0.1/24" stands for (10.2.0.0-10.2.0.255), or nullopt when the text
  // is not an address and a length.
  static std::optional<AddressRange> MeantRange(const std::string& text) {
    size_t slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    absl::StatusOr<Address> base = Address::Parse(text.substr(0, slash));
    int length = -1;
    const char* end = text.data() + text.size();
    if (!base.ok() || std::from_chars(text.data() + slash + 1, end, length).ptr != end ||
        length < 0 || length > FamilyBits(base->family)) {
      return std::nullopt;
    }
    int host_bits = FamilyBits(base->family) - length;
    absl::uint128 host_mask =
        host_bits == 128 ? absl::Uint128Max() : (absl::uint128(1) << host_bits) - 1;
    return AddressRange{base->family, base->value & ~host_mask, base->value | host_mask};
  }

  struct BrokenPrefix {
    AddressRange meant;
    std::string text;
    SourceLocation location;
  };
  const BrokenPrefix* BrokenPrefixCovering(const Address& addr) const {
    for (const BrokenPrefix& b : broken_prefixes_) {
      if (b.meant.Contains(addr)) return &b;
    }
    return nullptr;
  }
  // Reports a host address that no valid zone claims because a broken prefix was meant to,
  // naming that prefix as the cause. Returns false when no broken prefix covers it.
  bool ReportBrokenPrefixCause(YamlAccess& a, const YamlNode& item, const Address& addr,
                               const Host& h) {
    const BrokenPrefix* b = BrokenPrefixCovering(addr);
    if (!b) return false;
    a.Error(item, "address-outside-zone",
            absl::StrCat("host `", h.name, "` cannot be placed: its address ", addr.ToString(),
                         " lies in `", b->text, "` at ", b->location.FileLineColumn(),
                         ", which is not a valid prefix; fix that prefix first"));
    root_cause_ = b->location;
    return true;
  }

  void ClassifyZones() {
    std::vector<ZonePrefix> prefixes;
    for (const auto& [prefix, owner] : prefix_owner_) prefixes.push_back({prefix, owner.first});
    policy_.segments = BuildZoneSegments(std::move(prefixes));
    std::vector<AddressSet> spaces = EffectiveSpaces(policy_.segments, policy_.zones.size());
    for (size_t z = 0; z < policy_.zones.size(); ++z) {
      Zone& zone = policy_.zones[z];
      zone.effective = std::move(spaces[z]);
      if (zone.effective.Empty() && !zone.cidrs.empty()) {
        diagnostics_.Error(zone.location, "empty-zone",
                           absl::StrCat("zone `", zone.name,
                                        "` has no addresses of its own: more specific prefixes of "
                                        "other zones cover all of its cidrs; remove the zone or "
                                        "give it a prefix of its own"));
      }
    }
  }

  void ResolveHost(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    std::optional<Named> named = ReadNamed(a, n, kHostKeys, "a host", "host name");
    if (!named) return;
    const auto& [name_node, name] = *named;
    if (!EndpointNameFree(a, *name_node, name, Endpoint::Kind::kHost)) return;
    size_t first_new = diagnostics_.items().size();
    root_cause_.reset();
    if (!DefineHost(a, n, *name_node, name)) {
      MarkBroken(Namespace::kEndpoint, name, "host", first_new, a.At(*name_node));
    }
  }

  bool DefineHost(YamlAccess& a, const YamlNode& n, const YamlNode& name_node,
                  const std::string& name) {
    Host h;
    h.name = name;
    h.location = a.At(name_node);
    HostId id = static_cast<HostId>(policy_.hosts.size());
    std::optional<ZoneId> declared;
    if (const YamlNode* zone = a.Find(n, "zone")) {
      declared = ResolveZoneRef(a, *zone);
      if (!declared) return false;
    }
    const YamlNode* addrs = a.Require(n, "addresses", absl::StrCat("host `", h.name, "`"));
    if (!addrs) return false;
    std::optional<ZoneId> zone = ResolveHostAddresses(a, *addrs, declared, h);
    if (!zone) return false;
    h.zone = *zone;
    RecordEndpointName(a, name_node, h.name, {Endpoint::Kind::kHost, id});
    policy_.zones[*zone].hosts.push_back(id);
    policy_.hosts.push_back(std::move(h));
    return true;
  }

  std::optional<ZoneId> ResolveHostAddresses(YamlAccess& a, const YamlNode& addrs,
                                             std::optional<ZoneId> declared, Host& h) {
    std::optional<ZoneId> zone = declared;
    std::vector<const YamlNode*> items = a.List(addrs, "`addresses`", false);
    if (items.empty()) {
      a.Error(addrs, "invalid-cidr",
              absl::StrCat("host `", h.name, "` needs at least one address"));
      return std::nullopt;
    }
    bool addresses_fit = true;
    bool parsed = ParseItems<Address>(a, items, "an address", "invalid-cidr",
                                      [&](const YamlNode& item, const Address& addr) {
                                        addresses_fit &= CheckHostAddress(a, item, addr, zone, h);
                                        h.addresses.push_back(addr);
                                      });
    if (!parsed || !addresses_fit || !zone) return std::nullopt;
    if (policy_.zones[*zone].external) {
      for (size_t i = 0; i < items.size() && i < h.addresses.size(); ++i) {
        if (ReportBrokenPrefixCause(a, *items[i], h.addresses[i], h)) return std::nullopt;
      }
      a.Error(addrs, "address-outside-zone",
              absl::StrCat("host `", h.name, "` is in external zone `", policy_.zones[*zone].name,
                           "`; agents run only in internal zones, so move the host or make the "
                           "zone internal"));
      return std::nullopt;
    }
    return zone;
  }

  bool CheckHostAddress(YamlAccess& a, const YamlNode& item, const Address& addr,
                        std::optional<ZoneId>& zone, const Host& h) {
    auto [it, fresh] = address_owner_.try_emplace(addr, h.name, a.At(item));
    if (!fresh) {
      a.Error(item, "duplicate-name",
              absl::StrCat("address ", addr.ToString(), " is already used by host `",
                           it->second.first, "` at ", it->second.second.FileLine(),
                           "; two hosts may not share an address"));
      return false;
    }
    std::optional<ZoneId> cls = policy_.Classify(addr);
    if ((!cls || (zone && *zone != *cls)) && ReportBrokenPrefixCause(a, item, addr, h)) {
      return false;
    }
    if (!cls) {
      a.Error(item, "address-outside-zone",
              absl::StrCat("address ", addr.ToString(), " of host `", h.name,
                           "` belongs to no zone; add a prefix covering it to the host's zone"));
      return false;
    }
    if (zone && *zone != *cls) {
      a.Error(item, "address-outside-zone",
              absl::StrCat("address ", addr.ToString(), " of host `", h.name,
                           "` classifies into zone `", policy_.zones[*cls].name, "`, not `",
                           policy_.zones[*zone].name, "`; fix the address or the zone's cidrs"));
      return false;
    }
    zone = cls;
    return true;
  }

  std::optional<ZoneId> ResolveZoneRef(YamlAccess& a, const YamlNode& n) {
    std::optional<std::string> name = a.String(n, "a zone");
    if (!name) return std::nullopt;
    auto it = endpoint_names_.find(*name);
    if (it != endpoint_names_.end() && it->second.first.kind == Endpoint::Kind::kZone) {
      return it->second.first.id;
    }
    if (it == endpoint_names_.end() && NoteBrokenReference(Namespace::kEndpoint, *name, a, n)) {
      return std::nullopt;
    }
    std::string detail;
    if (it != endpoint_names_.end()) {
      detail = absl::StrCat("; `", *name, "` is a host (in zone `",
                            policy_.zones[policy_.hosts[it->second.first.id].zone].name,
                            "`), name its zone instead");
    } else {
      detail = DidYouMean(*name, ZoneNames());
    }
    a.Error(n, "unknown-ref", absl::StrCat("unknown zone `", *name, "`", detail));
    return std::nullopt;
  }

  std::vector<std::string> ZoneNames() const {
    std::vector<std::string> names;
    for (const Zone& z : policy_.zones) names.push_back(z.name);
    return names;
  }

  void ResolveService(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    std::optional<Named> named = ReadNamed(a, n, kServiceKeys, "a service", "service name");
    if (!named) return;
    const auto& [name_node, name] = *named;
    if (auto prior = service_ids_.find(name); prior != service_ids_.end()) {
      const Service& p = policy_.services[prior->second];
      a.Error(*name_node, "duplicate-name",
              p.builtin ? absl::StrCat("service `any` is built in; choose another name")
                        : AlreadyDeclared("service", name, p.location));
      return;
    }
    Service s;
    s.name = name;
    s.location = a.At(*name_node);
    size_t first_new = diagnostics_.items().size();
    const YamlNode* ports = a.Require(n, "ports", absl::StrCat("service `", s.name, "`"));
    if (!ports) {
      MarkBroken(Namespace::kService, name, "service", first_new, a.At(*name_node));
      return;
    }
    std::vector<const YamlNode*> items = a.List(*ports, "`ports`", true);
    if (items.empty()) {
      a.Error(*ports, "invalid-port",
              absl::StrCat("service `", s.name, "` needs at least one port item, e.g. tcp/443"));
    }
    s.ports = ParseAll<ServicePort>(a, items, "a port item", "invalid-port");
    service_ids_.emplace(s.name, static_cast<ServiceId>(policy_.services.size()));
    policy_.services.push_back(std::move(s));
  }

  void ResolveSettings(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    if (!a.CheckMap(n, kSettingsKeys, "`settings`")) return;
    policy_.settings.location = a.At(n);
    if (const YamlNode* v = a.Find(n, "log_denied")) {
      policy_.settings.log_denied = a.Bool(*v, "`log_denied`").value_or(false);
    }
    if (const YamlNode* v = a.Find(n, "host_dhcp")) {
      policy_.settings.host_dhcp = a.Bool(*v, "`host_dhcp`").value_or(false);
    }
    if (const YamlNode* v = a.Find(n, "mode")) {
      std::optional<std::string> mode = a.String(*v, "`mode`");
      if (std::optional<Mode> parsed = mode ? wire::ParseMode(*mode) : std::nullopt) {
        policy_.settings.mode = *parsed;
      } else if (mode) {
        a.Error(*v, "parse-error", absl::StrCat("`mode` is enforce or audit, not `", *mode, "`"));
      }
    }
    if (const YamlNode* c = a.Find(n, "controller")) ResolveController(a, *c);
  }

  void ResolveController(YamlAccess& a, const YamlNode& c) {
    if (!a.CheckMap(c, kControllerKeys, "`settings.controller`")) return;
    ControllerSettings ctl;
    if (const YamlNode* addrs = a.Require(c, "addresses", "`settings.controller`")) {
      ctl.addresses =
          ParseAll<Address>(a, a.List(*addrs, "`addresses`", true), "an address", "invalid-cidr");
    }
    if (const YamlNode* port = a.Require(c, "port", "`settings.controller`")) {
      // Not a number: parse-error (from Integer); a number out of range: invalid-port.
      std::optional<long> p = a.Integer(*port, "`port`", std::numeric_limits<long>::min(),
                                        std::numeric_limits<long>::max());
      if (!p) return;
      if (*p < 1 || *p > 65535) {
        diagnostics_.Error(a.At(*port), "invalid-port",
                           absl::StrCat("the controller port must be 1-65535, not ", *p));
        return;
      }
      ctl.port = static_cast<uint16_t>(*p);
    }
    policy_.settings.controller = std::move(ctl);
  }

  std::vector<Endpoint> ResolveEndpoints(YamlAccess& a, const YamlNode& n, const char* what) {
    std::vector<Endpoint> out;
    for (const YamlNode* item : a.List(n, absl::StrCat("`", what, "`"), true)) {
      std::optional<std::string> name = a.String(*item, "a zone or host");
      if (!name) continue;
      auto it = endpoint_names_.find(*name);
      if (it == endpoint_names_.end() &&
          NoteBrokenReference(Namespace::kEndpoint, *name, a, *item)) {
        continue;
      }
      if (it == endpoint_names_.end()) {
        std::vector<std::string> known;
        for (const auto& [k, v] : endpoint_names_) known.push_back(k);
        a.Error(*item, "unknown-ref",
                absl::StrCat("unknown zone or host `", *name, "` in `", what, "`",
                             DidYouMean(*name, known)));
        continue;
      }
      out.push_back(it->second.first);
    }
    // A null was reported by List already.
    if (out.empty() && n.IsSequence() && n.items.empty()) {
      a.Error(n, "parse-error", absl::StrCat("`", what, "` names no zone or host"));
    }
    return out;
  }

  std::vector<ServiceId> ResolveServiceRefs(YamlAccess& a, const YamlNode& n) {
    std::vector<ServiceId> out;
    for (const YamlNode* item : a.List(n, "`services`", true)) {
      std::optional<std::string> name = a.String(*item, "a service");
      if (!name) continue;
      if (auto s = service_ids_.find(*name); s != service_ids_.end()) {
        out.push_back(s->second);
        continue;
      }
      if (NoteBrokenReference(Namespace::kService, *name, a, *item)) continue;
      std::vector<std::string> known;
      for (const Service& s : policy_.services) known.push_back(s.name);
      a.Error(*item, "unknown-ref",
              absl::StrCat("unknown service `", *name, "`", DidYouMean(*name, known),
                           "; declare it under `services:`"));
    }
    if (out.empty() && (n.IsNull() || (n.IsSequence() && n.items.empty()))) {
      a.Error(n, "parse-error", "`services` names no service; use `any` for every service");
    }
    return out;
  }

  void ResolveFlow(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    if (!a.CheckMap(n, kFlowKeys, "a flow")) return;
    Flow f;
    f.location = a.At(n);
    f.name = f.location.FileLine();
    size_t errors_before = Problems();
    ReadFlowFields(a, n, f);
    const YamlNode* from = a.Require(n, "from", "a flow");
    const YamlNode* to = a.Require(n, "to", "a flow");
    const YamlNode* services = a.Require(n, "services", "a flow");
    if (from) f.from = ResolveEndpoints(a, *from, "from");
    if (to) f.to = ResolveEndpoints(a, *to, "to");
    if (services) f.services = ResolveServiceRefs(a, *services);
    if (Problems() != errors_before) return;
    CheckExternalToExternal(a, from ? *from : n, f);
    CheckExpiry(f);
    policy_.flows.push_back(std::move(f));
  }

  void ReadFlowFields(YamlAccess& a, const YamlNode& n, Flow& f) {
    if (const YamlNode* v = a.Find(n, "name")) {
      if (std::optional<std::string> name = a.Name(*v, "flow name")) {
        auto [it, fresh] = flow_names_.try_emplace(*name, a.At(*v));
        if (!fresh) {
          a.Error(*v, "duplicate-name", AlreadyDeclared("flow", *name, it->second));
        }
        f.name = *name;
      }
    }
    if (const YamlNode* v = a.Find(n, "action")) {
      std::optional<std::string> action = a.String(*v, "`action`");
      if (action == "deny") {
        f.action = Action::kDeny;
      } else if (action && *action != "allow") {
        a.Error(*v, "parse-error", absl::StrCat("`action` is allow or deny, not `", *action, "`"));
      }
    }
    if (const YamlNode* v = a.Find(n, "sources")) f.sources = ReadSources(a, *v);
    if (const YamlNode* v = a.Find(n, "expires")) f.expires = ReadTime(a, *v);
    if (const YamlNode* v = a.Find(n, "reason")) f.reason = a.String(*v, "`reason`").value_or("");
    if (const YamlNode* v = a.Find(n, "owner")) f.owner = a.String(*v, "`owner`").value_or("");
    if (const YamlNode* v = a.Find(n, "ticket")) f.ticket = a.String(*v, "`ticket`").value_or("");
  }

  std::vector<Prefix> ReadSources(YamlAccess& a, const YamlNode& n) {
    std::vector<Prefix> out =
        ParseAll<Prefix>(a, a.List(n, "`sources`", true), "a prefix", "invalid-cidr");
    if (n.IsSequence() && n.items.empty()) {
      a.Error(n, "parse-error",
              "`sources: []` narrows the flow to no address at all; list prefixes, or remove "
              "`sources` to mean every address of `from`");
    }
    return out;
  }

  std::optional<absl::Time> ReadTime(YamlAccess& a, const YamlNode& n) {
    std::optional<std::string> text = a.String(n, "`expires`");
    if (!text) return std::nullopt;
    std::optional<absl::Time> t = ParseRfc3339(*text);
    if (!t) {
      a.Error(n, "parse-error",
              absl::StrCat("`expires: ", *text,
                           "` is not an RFC 3339 time; write e.g. 2027-03-01T00:00:00Z"));
    }
    return t;
  }

  void CheckExternalToExternal(YamlAccess& a, const YamlNode& at, const Flow& f) {
    for (const Endpoint& from : f.from) {
      for (const Endpoint& to : f.to) {
        const Zone& zf = policy_.zones[policy_.ZoneOf(from)];
        const Zone& zt = policy_.zones[policy_.ZoneOf(to)];
        if (zf.external && zt.external) {
          a.Error(
              at, "external-to-external",
              absl::StrCat("flow `", f.name, "` goes from external zone `", zf.name,
                           "` to external zone `", zt.name,
                           "`; no agent could enforce it, so name an internal zone on one side"));
          return;
        }
      }
    }
  }

  void CheckExpiry(Flow& f) {
    if (!f.expires || *f.expires > policy_.now) return;
    f.active = false;
    diagnostics_.Warning(f.location, "expired-flow",
                         absl::StrCat("flow `", f.name, "` expired at ", FormatRfc3339(*f.expires),
                                      " and has no effect; remove it or extend `expires`"));
  }

  std::vector<ZoneId> ZoneList(YamlAccess& a, const YamlNode& n, const char* what) {
    std::vector<ZoneId> out;
    for (const YamlNode* item : a.List(n, absl::StrCat("`", what, "`"), true)) {
      if (std::optional<ZoneId> z = ResolveZoneRef(a, *item)) out.push_back(*z);
    }
    return out;
  }

  void ResolveInvariant(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    std::optional<Named> named = ReadNamed(a, n, kInvariantKeys, "an invariant", "invariant name");
    if (!named) return;
    const auto& [name_node, name] = *named;
    Invariant inv;
    inv.name = name;
    inv.location = a.At(n);
    auto [it, fresh] = invariant_names_.try_emplace(name, a.At(*name_node));
    if (!fresh) {
      a.Error(*name_node, "duplicate-name", AlreadyDeclared("invariant", name, it->second));
      return;
    }
    size_t errors_before = Problems();
    size_t first_new = diagnostics_.items().size();
    root_cause_.reset();
    if (!ReadInvariantKind(a, n, inv) || Problems() != errors_before) {
      MarkBroken(Namespace::kInvariant, name, "invariant", first_new, a.At(*name_node));
      return;
    }
    policy_.invariants.push_back(std::move(inv));
  }

  bool ReadInvariantKind(YamlAccess& a, const YamlNode& n, Invariant& inv) {
    std::vector<std::string> kinds;
    for (const char* k : {"no_path", "isolate", "via", "exposure", "reach"}) {
      if (a.Find(n, k)) kinds.push_back(k);
    }
    if (kinds.size() != 1) {
      a.Error(
          n, "parse-error",
          absl::StrCat("invariant `", inv.name,
                       "` needs exactly one of no_path, isolate, via, "
                       "exposure, reach",
                       kinds.empty() ? "" : absl::StrCat("; it has ", absl::StrJoin(kinds, ", "))));
      return false;
    }
    const YamlNode& body = *a.Find(n, kinds[0]);
    const YamlNode* except = a.Find(n, "except");
    if (except && kinds[0] != "isolate") {
      a.Error(*except, "parse-error", "`except` belongs to `isolate` invariants only");
      return false;
    }
    if (kinds[0] == "isolate") {
      inv.kind = InvariantKind::kIsolate;
      inv.to = ZoneList(a, body, "isolate");
      if (except) inv.except = ZoneList(a, *except, "except");
      return true;
    }
    if (kinds[0] == "no_path") return ReadPathInvariant(a, body, InvariantKind::kNoPath, inv);
    if (kinds[0] == "via") return ReadPathInvariant(a, body, InvariantKind::kVia, inv);
    if (kinds[0] == "reach") return ReadPathInvariant(a, body, InvariantKind::kReach, inv);
    inv.kind = InvariantKind::kExposure;
    if (!a.CheckMap(body, {"from", "max"}, "`exposure`")) return false;
    if (const YamlNode* from = a.Require(body, "from", "`exposure`"))
      inv.from = ZoneList(a, *from, "from");
    if (const YamlNode* max = a.Require(body, "max", "`exposure`")) {
      inv.max = static_cast<int>(a.Integer(*max, "`max`", 0, 1'000'000'000).value_or(0));
    }
    return true;
  }

  bool ReadPathInvariant(YamlAccess& a, const YamlNode& body, InvariantKind kind, Invariant& inv) {
    inv.kind = kind;
    bool via = kind == InvariantKind::kVia;
    bool reach = kind == InvariantKind::kReach;
    std::vector<std::string> keys = {"from", "to", "services"};
    if (via) keys.push_back("through");
    if (reach) keys.push_back("direct");
    const char* what = via ? "`via`" : reach ? "`reach`" : "`no_path`";
    if (!a.CheckMap(body, keys, what)) return false;
    if (const YamlNode* from = a.Require(body, "from", what)) inv.from = ZoneList(a, *from, "from");
    if (const YamlNode* to = a.Require(body, "to", what)) inv.to = ZoneList(a, *to, "to");
    if (via) {
      if (const YamlNode* t = a.Require(body, "through", what))
        inv.through = ZoneList(a, *t, "through");
    }
    // `services` scopes the paths by their last edge (spec §6).
    if (const YamlNode* services = a.Find(body, "services")) {
      inv.services = ResolveServiceRefs(a, *services);
    }
    if (const YamlNode* direct = reach ? a.Find(body, "direct") : nullptr) {
      inv.direct = a.Bool(*direct, "`direct`").value_or(false);
    }
    return true;
  }

  // A posture (spec §6a). Every reference in it is checked like a flow's or an
  // invariant's; a posture with any error is left out of the policy.
  void ResolvePosture(const Decl& d) {
    YamlAccess a = Access(d);
    const YamlNode& n = *d.node;
    std::optional<Named> named = ReadNamed(a, n, kPostureKeys, "a posture", "posture name");
    if (!named) return;
    const auto& [name_node, name] = *named;
    auto [it, fresh] = posture_names_.try_emplace(name, a.At(*name_node));
    if (!fresh) {
      a.Error(*name_node, "duplicate-name", AlreadyDeclared("posture", name, it->second));
      return;
    }
    Posture p;
    p.name = name;
    p.location = a.At(*name_node);
    size_t errors_before = Problems();
    std::string what = absl::StrCat("posture `", name, "`");
    // Without `isolate` a posture would cut nothing at all.
    if (const YamlNode* isolate = a.Require(n, "isolate", what)) {
      p.isolate = ResolveEndpoints(a, *isolate, "isolate");
    }
    if (const YamlNode* allow = a.Find(n, "allow")) p.allow = ReadPostureAllow(a, *allow);
    if (const YamlNode* keep = a.Find(n, "keep")) p.keep = ReadPostureKeep(a, *keep, name);
    if (const YamlNode* v = a.Find(n, "owner")) p.owner = a.String(*v, "`owner`").value_or("");
    if (const YamlNode* v = a.Find(n, "reason")) p.reason = a.String(*v, "`reason`").value_or("");
    if (Problems() != errors_before) return;
    policy_.postures.push_back(std::move(p));
  }

  std::vector<PostureAllow> ReadPostureAllow(YamlAccess& a, const YamlNode& n) {
    std::vector<PostureAllow> out;
    std::map<ZoneId, SourceLocation> seen;
    for (const YamlNode* item : a.List(n, "`allow`", false)) {
      if (!a.CheckMap(*item, kPostureAllowKeys, "an `allow` entry")) continue;
      PostureAllow allow;
      allow.location = a.At(*item);
      const YamlNode* zone = a.Require(*item, "zone", "an `allow` entry");
      if (!zone) continue;
      std::optional<ZoneId> id = ResolveZoneRef(a, *zone);
      if (!id) continue;
      allow.zone = *id;
      // Two entries for one zone would leave unclear which services it keeps.
      auto [prior, fresh] = seen.try_emplace(*id, a.At(*zone));
      if (!fresh) {
        a.Error(
            *zone, "duplicate-name",
            absl::StrCat("zone `", policy_.zones[*id].name, "` already has an `allow` entry at ",
                         prior->second.FileLineColumn(), "; merge the two entries"));
        continue;
      }
      if (const YamlNode* services = a.Find(*item, "services")) {
        allow.services = ResolveServiceRefs(a, *services);
      }
      out.push_back(std::move(allow));
    }
    return out;
  }

  // `keep` entries: an inline `reach:` invariant named "POSTURE.keep[I]" (I counts from 0),
  // or the name of a policy `reach` invariant, copied with its name but located at the
  // reference, where the posture that must keep it is written.
  std::vector<Invariant> ReadPostureKeep(YamlAccess& a, const YamlNode& n,
                                         const std::string& posture) {
    std::vector<Invariant> out;
    std::vector<const YamlNode*> items = a.List(n, "`keep`", false);
    for (size_t i = 0; i < items.size(); ++i) {
      const YamlNode& item = *items[i];
      if (item.IsScalar()) {
        if (std::optional<Invariant> inv = KeptPolicyInvariant(a, item)) out.push_back(*inv);
        continue;
      }
      if (!item.IsMap()) {
        a.Error(item, "parse-error",
                "a `keep` entry is the name of a policy `reach` invariant or an inline "
                "`reach: {from: A, to: B}`, not a list");
        continue;
      }
      if (!a.CheckMap(item, {"reach"}, "a `keep` entry")) continue;
      const YamlNode* body = a.Require(item, "reach", "a `keep` entry");
      if (!body) continue;
      Invariant inv;
      inv.name = absl::StrCat(posture, ".keep[", i, "]");
      inv.location = a.At(item);
      size_t errors_before = Problems();
      if (ReadPathInvariant(a, *body, InvariantKind::kReach, inv) && Problems() == errors_before) {
        out.push_back(std::move(inv));
      }
    }
    return out;
  }

  std::optional<Invariant> KeptPolicyInvariant(YamlAccess& a, const YamlNode& item) {
    const std::string& name = item.scalar;
    std::vector<std::string> reach_names;
    for (const Invariant& inv : policy_.invariants) {
      if (inv.kind == InvariantKind::kReach) reach_names.push_back(inv.name);
      if (inv.name != name) continue;
      if (inv.kind != InvariantKind::kReach) {
        a.Error(item, "not-a-reach-invariant",
                absl::StrCat("invariant `", name, "` (", inv.location.FileLine(), ") is ",
                             KindName(inv.kind),
                             ", but `keep` lists what must still work: name a `reach` invariant, "
                             "or write one inline as `- reach: {from: A, to: B}`"));
        return std::nullopt;
      }
      Invariant kept = inv;
      kept.location = a.At(item);
      return kept;
    }
    if (NoteBrokenReference(Namespace::kInvariant, name, a, item)) return std::nullopt;
    a.Error(item, "unknown-ref",
            absl::StrCat("unknown invariant `", name, "` in `keep`", DidYouMean(name, reach_names),
                         "; name a policy `reach` invariant or write one inline as "
                         "`- reach: {from: A, to: B}`"));
    return std::nullopt;
  }

  static const char* KindName(InvariantKind kind) {
    switch (kind) {
      case InvariantKind::kNoPath:
        return "a `no_path` invariant";
      case InvariantKind::kIsolate:
        return "an `isolate` invariant";
      case InvariantKind::kVia:
        return "a `via` invariant";
      case InvariantKind::kExposure:
        return "an `exposure` invariant";
      case InvariantKind::kReach:
        return "a `reach` invariant";
    }
    return "an invariant";
  }

  // Names whose declaration failed. A reference to one is not an unknown name (a did-you-mean
  // would point elsewhere): it is collected, and each such name is reported once, after
  // everything, with the error that broke it and the references left unchecked.
  enum class Namespace { kEndpoint, kService, kInvariant };
  struct BrokenName {
    std::string what;      // "host", "service", "invariant"
    SourceLocation cause;  // the error that broke the declaration (its root cause if known)
    std::vector<SourceLocation> references;
  };

  void MarkBroken(Namespace ns, const std::string& name, const char* what, size_t first_new,
                  const SourceLocation& fallback) {
    SourceLocation cause = fallback;  // when the error list was already full
    if (root_cause_) {
      cause = *root_cause_;
    } else {
      const std::vector<Diagnostic>& items = diagnostics_.items();
      for (size_t i = first_new; i < items.size(); ++i) {
        if (items[i].severity == Severity::kError) {
          cause = items[i].location;
          break;
        }
      }
    }
    broken_.try_emplace({ns, name}, BrokenName{what, cause, {}});
  }

  // True (and the reference noted) when `name` is a broken declaration's.
  bool NoteBrokenReference(Namespace ns, const std::string& name, YamlAccess& a,
                           const YamlNode& at) {
    auto it = broken_.find({ns, name});
    if (it == broken_.end()) return false;
    it->second.references.push_back(a.At(at));
    ++broken_references_;
    if (!root_cause_) root_cause_ = it->second.cause;
    return true;
  }

  void ReportBrokenReferences() {
    constexpr size_t kListed = 10;
    for (auto& [key, broken] : broken_) {
      std::vector<SourceLocation>& refs = broken.references;
      if (refs.empty()) continue;
      std::sort(refs.begin(), refs.end(), [](const SourceLocation& x, const SourceLocation& y) {
        return std::tie(x.file, x.line, x.column) < std::tie(y.file, y.line, y.column);
      });
      std::string message = absl::StrCat("`", key.second, "` is undefined because of the error at ",
                                         broken.cause.FileLineColumn(), " (the ", broken.what,
                                         " could not be defined); fix that error first. ");
      if (refs.size() == 1) {
        absl::StrAppend(&message, "This reference is not checked");
      } else {
        absl::StrAppend(&message, "Its ", refs.size(), " references are not checked: ");
        for (size_t i = 0; i < refs.size() && i < kListed; ++i) {
          absl::StrAppend(&message, i ? ", " : "", refs[i].FileLineColumn());
        }
        if (refs.size() > kListed)
          absl::StrAppend(&message, " and ", refs.size() - kListed, " more");
      }
      diagnostics_.Error(refs.front(), "unknown-ref", message);
    }
  }

  // Errors reported plus references to broken names: a declaration whose count changed while
  // it was resolved is not complete and stays out of the policy.
  size_t Problems() const { return diagnostics_.error_count() + broken_references_; }

  DiagnosticList& diagnostics_;
  Policy policy_;
  std::vector<Decl> zone_decls_, host_decls_, service_decls_, flow_decls_, invariant_decls_,
      posture_decls_;
  std::optional<Decl> settings_decl_;
  std::map<std::string, std::pair<Endpoint, SourceLocation>> endpoint_names_;
  std::map<Prefix, std::pair<ZoneId, SourceLocation>> prefix_owner_;
  // Hashed, not ordered: it is only looked up, once per host address, and a tree of
  // 100,000 addresses was a tenth of a large policy's load.
  absl::flat_hash_map<Address, std::pair<std::string, SourceLocation>, AddressHash> address_owner_;
  std::map<std::string, SourceLocation> flow_names_;
  std::unordered_map<std::string, ServiceId> service_ids_;
  std::map<std::string, SourceLocation> invariant_names_;
  std::map<std::string, SourceLocation> posture_names_;
  std::vector<BrokenPrefix> broken_prefixes_;
  std::map<std::pair<Namespace, std::string>, BrokenName> broken_;
  size_t broken_references_ = 0;
  // While a host is resolved: the earlier error that its failure follows from.
  std::optional<SourceLocation> root_cause_;
};

}  // namespace

Policy ResolvePolicy(const std::vector<ParsedFile>& files, absl::Time now,
                     DiagnosticList& diagnostics) {
  return Resolver(now, diagnostics).Run(files);
}

}  // namespace polder
