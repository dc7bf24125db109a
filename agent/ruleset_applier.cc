#include "agent/ruleset_applier.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "agent/element_text.h"
#include "agent/listing_diff.h"

namespace polder::agent {
namespace {

// Adds the chains and sets in which `a` and `b` differ (declaration, rules or elements). Sets
// go by their kernel names in `a`, as a SnapshotScope names them.
void AddDiffering(const TableSnapshot& a, const TableSnapshot& b, std::set<std::string>* chains,
                  std::set<std::string>* sets) {
  if (a.objects == nullptr || b.objects == nullptr) return;
  const TableObjects& x = *a.objects;
  const TableObjects& y = *b.objects;
  auto differing_keys = [](const auto& m, const auto& n, auto&& add) {
    for (const auto& [key, value] : m) {
      auto other = n.find(key);
      if (other == n.end() || !(other->second == value)) add(key);
    }
    for (const auto& [key, value] : n) {
      if (!m.count(key)) add(key);
    }
  };
  auto add_chain = [chains](const std::string& chain) { chains->insert(chain); };
  auto add_set = [&x, sets](const std::string& set) {
    auto kernel = x.kernel_names.find(set);
    sets->insert(kernel != x.kernel_names.end() ? kernel->second : set);
  };
  differing_keys(x.chains, y.chains, add_chain);
  std::map<std::string, std::vector<absl::string_view>> x_rules, y_rules;
  for (const TableObjects::Rule& r : x.rules) x_rules[r.chain].push_back(r.line);
  for (const TableObjects::Rule& r : y.rules) y_rules[r.chain].push_back(r.line);
  differing_keys(x_rules, y_rules, add_chain);
  differing_keys(x.sets, y.sets, add_set);
  differing_keys(x.element_digests, y.element_digests, add_set);
}

}  // namespace

absl::Status RulesetApplier::Commit(const Ruleset& ruleset) {
  if (options_.dry_run) {
    if (absl::Status st = kernel_->Run(ruleset.text, true); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("kernel refused ruleset: ", st.message()));
    }
  }
  if (absl::Status st = kernel_->Run(ruleset.text, false); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("applying ruleset failed: ", st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<RulesetApplier::Result> RulesetApplier::Apply(std::string text) {
  absl::StatusOr<Ruleset> parsed =
      options_.parse ? options_.parse(std::move(text)) : ParseRuleset(std::move(text));
  if (!parsed.ok()) return parsed.status();
  return Apply(std::move(*parsed));
}

absl::StatusOr<RulesetApplier::Result> RulesetApplier::ApplyStructured(Ruleset ruleset,
                                                                       absl::Time start) {
  // While the agent enforces a structured ruleset it knows the elements the kernel holds (any
  // foreign change to them is seen and undone), so neither read here dumps named sets: big
  // interval sets cost the kernel time quadratic in their size to dump.
  static const std::set<std::string> kNoSets;
  bool known = current_ && current_->structured && desired_snapshot_.objects != nullptr;
  SnapshotScope before;
  if (known) before = {&kNoSets, &desired_snapshot_};
  absl::StatusOr<TableSnapshot> in_kernel = kernel_->Snapshot(before);
  if (!in_kernel.ok() && !absl::IsNotFound(in_kernel.status())) return in_kernel.status();
  if (current_ && in_kernel.ok() && current_->hash == ruleset.hash &&
      *in_kernel == desired_snapshot_) {
    return Result{Outcome::kUnchanged, absl::Now() - start};
  }
  if (!current_ && in_kernel.ok()) {
    // A restarted agent (or the boot unit before it) left this ruleset in the kernel: keep it.
    absl::StatusOr<TableSnapshot> rendered = kernel_->RenderStructured(*ruleset.structured);
    if (rendered.ok() && *rendered == *in_kernel) {
      current_ = std::move(ruleset);
      KeepDesired(std::move(*in_kernel));
      return Result{Outcome::kAdopted, absl::Now() - start};
    }
  }
  const wire::NftRuleset* applied =
      current_ && current_->structured ? current_->structured.get() : nullptr;
  const TableSnapshot* applied_snapshot = applied != nullptr ? &desired_snapshot_ : nullptr;
  // The elements the batch will leave, computed once for the batch and the read-back, and
  // shared with the applied ruleset's for every set the new one leaves alone.
  absl::StatusOr<TableSnapshot> expected =
      ExpectedElements(*ruleset.structured, applied, applied_snapshot);
  if (!expected.ok()) {
    return absl::Status(expected.status().code(),
                        absl::StrCat("applying ruleset failed: ", expected.status().message()));
  }
  absl::StatusOr<NftnlWriter::Result> synced =
      kernel_->Sync(applied, applied_snapshot, *ruleset.structured,
                    in_kernel.ok() ? &*in_kernel : nullptr, &*expected);
  if (!synced.ok()) {
    return absl::Status(synced.status().code(),
                        absl::StrCat("applying ruleset failed: ", synced.status().message()));
  }
  // The committed batch left exactly the ruleset's elements; read the rest.
  absl::StatusOr<TableSnapshot> read_back = kernel_->Snapshot({&kNoSets, &*expected});
  if (!read_back.ok()) {
    return absl::InternalError(
        absl::StrCat("table missing right after applying: ", read_back.status().message()));
  }
  current_ = std::move(ruleset);
  KeepDesired(std::move(*read_back));
  return Result{Outcome::kApplied, absl::Now() - start};
}

absl::StatusOr<RulesetApplier::Result> RulesetApplier::Apply(Ruleset ruleset) {
  absl::Time start = absl::Now();
  if (ruleset.structured && kernel_->TakesStructured())
    return ApplyStructured(std::move(ruleset), start);
  ruleset.structured.reset();  // applied as text: nothing below may take it for the kernel's
  absl::StatusOr<Ruleset> parsed = std::move(ruleset);

  // The kernel's table only matters for a restart (adopt) or a repeat of the current ruleset;
  // a new ruleset replaces whatever is there, so skip the snapshot (it is not free on big sets).
  absl::StatusOr<TableSnapshot> in_kernel = absl::NotFoundError("not read");
  if (!current_ || current_->hash == parsed->hash) {
    in_kernel = kernel_->Snapshot();
    if (!in_kernel.ok() && !absl::IsNotFound(in_kernel.status())) return in_kernel.status();
  }

  if (current_ && in_kernel.ok() && current_->hash == parsed->hash &&
      *in_kernel == desired_snapshot_) {
    return Result{Outcome::kUnchanged, absl::Now() - start};
  }
  if (!current_ && in_kernel.ok()) {
    // A restarted agent: keep the kernel's table when it is already the one we would write.
    // If rendering fails (say an interface the scratch namespace lacks), fall through to the
    // atomic replace, which never leaves a moment without rules either.
    absl::StatusOr<TableSnapshot> rendered = kernel_->Render(parsed->text);
    if (rendered.ok() && *rendered == *in_kernel) {
      current_ = std::move(*parsed);
      KeepDesired(std::move(*in_kernel));
      return Result{Outcome::kAdopted, absl::Now() - start};
    }
  }
  if (absl::Status st = Commit(*parsed); !st.ok()) return st;
  absl::StatusOr<TableSnapshot> read_back = kernel_->Snapshot();
  if (!read_back.ok()) {
    return absl::InternalError(
        absl::StrCat("table missing right after applying: ", read_back.status().message()));
  }
  current_ = std::move(*parsed);
  KeepDesired(std::move(*read_back));
  return Result{Outcome::kApplied, absl::Now() - start};
}

void RulesetApplier::KeepDesired(TableSnapshot snapshot) {
  desired_snapshot_ = std::move(snapshot);
  kernel_known_ = true;
  desired_listing_.clear();
  // The text listing makes drift reports readable but costs seconds for big sets.
  if (desired_snapshot_.elements <= options_.max_elements_for_text_diff) {
    absl::StatusOr<std::string> listing = kernel_->ListPolderTable();
    if (listing.ok()) desired_listing_ = std::move(*listing);
  }
}

absl::StatusOr<std::vector<std::string>> RulesetApplier::Check(
    const std::set<std::string>* changed_sets, std::optional<TableSnapshot>* read,
    const std::set<std::string>* changed_chains) {
  if (!current_) return std::vector<std::string>{};
  SnapshotScope scope;
  if (changed_sets != nullptr && current_->structured && kernel_known_)
    scope = {changed_sets, &desired_snapshot_, changed_chains};
  kernel_known_ = false;
  absl::StatusOr<TableSnapshot> actual = kernel_->Snapshot(scope);
  if (absl::IsNotFound(actual.status())) {
    return std::vector<std::string>{"- table inet polder (table deleted)"};
  }
  if (!actual.ok()) return actual.status();
  if (*actual == desired_snapshot_) {
    kernel_known_ = true;
    return std::vector<std::string>{};
  }
  std::vector<std::string> diff;
  if (!desired_listing_.empty()) {
    absl::StatusOr<std::string> listing = kernel_->ListPolderTable();
    if (listing.ok()) diff = DiffListings(desired_listing_, *listing);
  }
  // Big tables, or a difference the text does not show: report the kernel-level lines.
  if (diff.empty()) {
    diff = DiffListings(desired_snapshot_.lines, actual->lines);
    // A set's elements are one digest line; say which elements differ.
    if (desired_snapshot_.objects != nullptr && actual->objects != nullptr) {
      for (const auto& [set, want] : desired_snapshot_.objects->element_lines) {
        auto have = actual->objects->element_lines.find(set);
        if (have == actual->objects->element_lines.end() || *have->second == *want) continue;
        std::vector<std::string> d =
            DiffListings(absl::StrJoin(*want, "\n"), absl::StrJoin(*have->second, "\n"));
        const wire::NftSet* decl = nullptr;
        if (current_->structured) {
          for (const wire::NftSet& candidate : current_->structured->sets) {
            if (candidate.name == set) decl = &candidate;
          }
        }
        for (std::string& line : d) {
          // "+ <element>" / "- <element>": the element in words when the set is known.
          if (decl != nullptr && line.size() > 2)
            line = line.substr(0, 2) + ElementText(line.substr(2), *decl);
          diff.push_back(absl::StrCat(line, " (set ", set, ")"));
        }
      }
    }
  }
  // Same lines in another order still matter: rule order decides verdicts.
  if (diff.empty()) diff.push_back("~ same lines in a different order");
  // Only a table that differs is restored: handed over then, not copied on every check.
  if (read != nullptr) *read = std::move(*actual);
  return diff;
}

absl::StatusOr<absl::Duration> RulesetApplier::Reload() {
  if (!current_ || !current_->structured) {
    return absl::FailedPreconditionError("no structured ruleset to reload");
  }
  absl::Time start = absl::Now();
  static const std::set<std::string> kNoSets;
  absl::StatusOr<TableSnapshot> expected = ExpectedElements(*current_->structured);
  if (!expected.ok()) return expected.status();
  absl::StatusOr<NftnlWriter::Result> synced =
      kernel_->Sync(nullptr, nullptr, *current_->structured, nullptr, nullptr);
  if (!synced.ok()) {
    return absl::Status(synced.status().code(),
                        absl::StrCat("reload failed: ", synced.status().message()));
  }
  absl::StatusOr<TableSnapshot> read_back = kernel_->Snapshot({&kNoSets, &*expected});
  if (!read_back.ok()) {
    return absl::InternalError(
        absl::StrCat("table missing right after reloading: ", read_back.status().message()));
  }
  KeepDesired(std::move(*read_back));
  return absl::Now() - start;
}

absl::StatusOr<absl::Duration> RulesetApplier::Restore(const std::set<std::string>* changed_sets,
                                                       std::optional<TableSnapshot> just_read) {
  if (!current_) return absl::FailedPreconditionError("no ruleset to restore");
  absl::Time start = absl::Now();
  if (current_->structured) {
    const wire::NftRuleset& desired = *current_->structured;
    SnapshotScope scope;
    if (changed_sets != nullptr && kernel_known_) scope = {changed_sets, &desired_snapshot_};
    // A table that changed after that read makes the batch fail (a handle gone) or leaves a
    // difference; both end in the full replace below.
    absl::StatusOr<TableSnapshot> in_kernel =
        just_read ? absl::StatusOr<TableSnapshot>(std::move(*just_read)) : kernel_->Snapshot(scope);
    if (!in_kernel.ok() && !absl::IsNotFound(in_kernel.status())) return in_kernel.status();
    absl::StatusOr<NftnlWriter::Result> synced = kernel_->Sync(
        &desired, &desired_snapshot_, desired, in_kernel.ok() ? &*in_kernel : nullptr, nullptr);
    if (!synced.ok()) {
      return absl::Status(synced.status().code(),
                          absl::StrCat("restore failed: ", synced.status().message()));
    }
    // An in-place repair that did not give back the very table (say the kernel named an
    // anonymous set otherwise) is followed by a full replace. The read-back asks for what the
    // batch changed and for whatever differed before it, so a difference the batch missed
    // cannot hide behind the desired snapshot.
    SnapshotScope after_scope;
    if (!synced->full && in_kernel.ok()) {
      AddDiffering(*in_kernel, desired_snapshot_, &synced->rule_chains, &synced->element_sets);
      after_scope = {&synced->element_sets, &desired_snapshot_, &synced->rule_chains};
    }
    absl::StatusOr<TableSnapshot> after = kernel_->Snapshot(after_scope);
    if (!synced->full && (!after.ok() || !(*after == desired_snapshot_))) {
      synced = kernel_->Sync(nullptr, nullptr, desired, nullptr, nullptr);
      if (!synced.ok()) {
        return absl::Status(synced.status().code(),
                            absl::StrCat("restore failed: ", synced.status().message()));
      }
    }
    kernel_known_ = true;
    return absl::Now() - start;
  }
  if (absl::Status st = kernel_->Run(current_->text, false); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("restore failed: ", st.message()));
  }
  kernel_known_ = true;
  return absl::Now() - start;
}

}  // namespace polder::agent
