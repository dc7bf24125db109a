#include "controller/policy_source.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "compiler/frontend/parse_cache.h"
#include "compiler/model/posture.h"
#include "compiler/model/quarantine.h"
#include "compiler/render/ruleset_batch.h"
#include "compiler/verify/check.h"

namespace polder::controller {
namespace {

constexpr int kMaxErrorsShown = 20;

std::string Cite(const Diagnostic& d) {
  return absl::StrCat(d.location.file, ":", d.location.line, ":", d.location.column, ": ",
                      d.message, " [", d.code, "]");
}

// A violated keep entry of a posture: it refuses activating that posture, not the policy.
bool OfPosture(const Diagnostic& d) { return !d.posture.empty(); }

std::string ErrorSummary(const DiagnosticList& diagnostics, size_t errors) {
  std::string out = absl::StrCat(errors, " error(s) in the policy");
  int shown = 0;
  for (const Diagnostic& d : diagnostics.items()) {
    if (d.severity != Severity::kError || OfPosture(d)) continue;
    if (shown++ == kMaxErrorsShown) {
      absl::StrAppend(&out, "; ...");
      break;
    }
    absl::StrAppend(&out, "; ", Cite(d));
  }
  return out;
}

std::optional<absl::Time> NextExpiry(const Policy& p, absl::Time now) {
  std::optional<absl::Time> next;
  for (const Flow& f : p.flows)
    if (f.expires && *f.expires > now && (!next || *f.expires < *next)) next = f.expires;
  return next;
}

// `render`: false for a check only (the hosts are left out).
absl::StatusOr<CompiledPolicy> Compile(const std::filesystem::path& dir, absl::Time now,
                                       const std::vector<QuarantineRecord>& quarantines,
                                       const std::string& posture, MemoryParseCache& cache,
                                       bool render = true) {
  CheckOptions options;
  options.now = now;
  // Only the files that changed since the last compile are parsed again: the others'
  // trees come from memory, by content (parse_cache.h), which gives the same policy.
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, LoadOptions{now, 0, &cache});
  cache.DropUnused();
  if (!loaded.ok()) return loaded.status();
  VerifyLoaded(*loaded, options);
  CompiledPolicy out;
  for (const Posture& p : loaded->policy.postures) out.postures[p.name];
  size_t errors = 0;
  for (const Diagnostic& d : loaded->diagnostics.items()) {
    if (d.severity != Severity::kError) continue;
    if (!OfPosture(d)) {
      ++errors;
      continue;
    }
    std::string& why = out.postures[d.posture];
    absl::StrAppend(&why, why.empty() ? "" : "; ", Cite(d));
  }
  if (errors > 0) return absl::FailedPreconditionError(ErrorSummary(loaded->diagnostics, errors));
  // The posture first, then the quarantines: an operator's quarantine during a crisis plan
  // cuts further what the plan left.
  absl::StatusOr<Policy> base = std::move(loaded->policy);
  if (!posture.empty()) base = PostureApplied(*std::move(base), posture);
  if (!base.ok()) return base.status();
  std::vector<QuarantineOrder> orders;
  for (const auto& q : quarantines) orders.push_back({q.target, q.allow, q.reason});
  auto policy = Quarantined(*std::move(base), orders);
  if (!policy.ok()) return policy.status();

  out.revision = policy->revision;
  out.mode = policy->settings.mode;
  out.next_expiry = NextExpiry(*policy, now);
  for (const Zone& z : policy->zones) out.zones.insert(z.name);
  for (const Diagnostic& d : loaded->diagnostics.items())
    if (d.severity == Severity::kWarning) out.warnings.push_back(Cite(d));
  if (!render) return out;
  std::vector<HostRuleset> rulesets = RenderAllRulesetsParallel(*policy, 0);
  for (HostId h = 0; h < static_cast<HostId>(policy->hosts.size()); ++h) {
    const Host& host = policy->hosts[h];
    out.hosts[host.name] = {policy->zones[host.zone].name, std::move(rulesets[h].text),
                            std::move(rulesets[h].ruleset)};
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> CheckDirectory(const std::filesystem::path& dir, absl::Time now) {
  MemoryParseCache cache;
  auto checked = Compile(dir, now, {}, "", cache, /*render=*/false);
  if (!checked.ok()) return checked.status();
  return checked->revision;
}

PolicyCompiler DirectoryCompiler(std::filesystem::path dir) {
  auto cache = std::make_shared<MemoryParseCache>();
  return [dir = std::move(dir), cache](absl::Time now, const std::vector<QuarantineRecord>& q,
                                       const std::string& posture) {
    return Compile(dir, now, q, posture, *cache);
  };
}

}  // namespace polder::controller
