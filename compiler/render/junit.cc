#include "compiler/render/junit.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/render/markup_escape.h"

namespace polder {
namespace {

std::string Line(const Diagnostic& d) {
  return absl::StrCat(d.location.FileLineColumn(), ": ",
                      d.severity == Severity::kError ? "error" : "warning", ": ", d.message, " [",
                      d.code, "]");
}

struct Case {
  std::string classname, name, file;
  int line = 0;
  std::vector<std::string> failures;  // lines
  std::string skipped;                // reason, when skipped
  std::string out;                    // system-out
};

std::string Render(const Case& c) {
  std::string xml = absl::StrCat("    <testcase classname=\"", MarkupEscape(c.classname),
                                 "\" name=\"", MarkupEscape(c.name), "\"");
  if (!c.file.empty()) absl::StrAppend(&xml, " file=\"", MarkupEscape(c.file), "\"");
  if (c.line > 0) absl::StrAppend(&xml, " line=\"", c.line, "\"");
  absl::StrAppend(&xml, ">\n");
  if (!c.failures.empty()) {
    absl::StrAppend(&xml, "      <failure message=\"", MarkupEscape(c.failures.front()),
                    "\" type=\"polder\">", MarkupEscape(absl::StrJoin(c.failures, "\n")),
                    "</failure>\n");
  } else if (!c.skipped.empty()) {
    absl::StrAppend(&xml, "      <skipped message=\"", MarkupEscape(c.skipped), "\"/>\n");
  }
  if (!c.out.empty())
    absl::StrAppend(&xml, "      <system-out>", MarkupEscape(c.out), "</system-out>\n");
  return xml + "    </testcase>\n";
}

}  // namespace

std::string ToJunit(const DiagnosticList& diagnostics, const std::string& revision,
                    const std::vector<Invariant>& invariants,
                    const std::vector<Posture>& postures) {
  Case policy{"polder.policy", "policy is valid", "", 0, {}, "", ""};
  // Keyed by (classname, name): a posture's keep entry may carry the name of a policy
  // invariant it refers to, and is a case of its own.
  using Key = std::pair<std::string, std::string>;
  std::map<Key, Case> by_invariant;
  std::vector<Key> order;
  auto add = [&](const std::string& classname, const std::string& name, const SourceLocation& at) {
    Key key{classname, name};
    if (by_invariant.count(key)) return key;
    order.push_back(key);
    by_invariant[key] = {classname, name, at.file, at.line, {}, "", ""};
    return key;
  };
  auto class_of = [](const std::string& posture) {
    return posture.empty() ? std::string("polder.invariants")
                           : absl::StrCat("polder.postures.", posture);
  };
  for (const Invariant& inv : invariants) add(class_of(""), inv.name, inv.location);
  for (const Posture& p : postures)
    for (const Invariant& keep : p.keep) add(class_of(p.name), keep.name, keep.location);
  for (const Diagnostic& d : diagnostics.items()) {
    if (d.code == "invariant-violated" && !d.invariant.empty()) {
      Key key = add(class_of(d.posture), d.invariant, d.location);
      by_invariant[key].failures.push_back(Line(d));
    } else if (d.severity == Severity::kError) {
      policy.failures.push_back(Line(d));
    } else {
      absl::StrAppend(&policy.out, Line(d), "\n");
    }
  }
  std::vector<const Case*> cases{&policy};
  for (const Key& key : order) {
    Case& c = by_invariant[key];
    // check does not verify invariants of a policy that does not resolve.
    if (c.failures.empty() && !policy.failures.empty()) {
      c.skipped = "not checked: the policy has errors";
    }
    cases.push_back(&c);
  }
  int failures = 0, skipped = 0;
  for (const Case* c : cases) {
    failures += !c->failures.empty();
    skipped += c->failures.empty() && !c->skipped.empty();
  }
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"polder\" tests=\"",
      cases.size(), "\" failures=\"", failures, "\">\n  <testsuite name=\"polder check\" tests=\"",
      cases.size(), "\" failures=\"", failures, "\" errors=\"0\" skipped=\"", skipped, "\">\n");
  if (!revision.empty()) {
    absl::StrAppend(&xml, "    <properties><property name=\"revision\" value=\"",
                    MarkupEscape(revision), "\"/></properties>\n");
  }
  for (const Case* c : cases) absl::StrAppend(&xml, Render(*c));
  return xml + "  </testsuite>\n</testsuites>\n";
}

}  // namespace polder
