#include "compiler/render/junit.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

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
  std::string xml = absl::StrCat("    <testcase classname=\"", Escape(c.classname), "\" name=\"",
                                 Escape(c.name), "\"");
  if (!c.file.empty()) absl::StrAppend(&xml, " file=\"", Escape(c.file), "\"");
  if (c.line > 0) absl::StrAppend(&xml, " line=\"", c.line, "\"");
  absl::StrAppend(&xml, ">\n");
  if (!c.failures.empty()) {
    absl::StrAppend(&xml, "      <failure message=\"", Escape(c.failures.front()),
                    "\" type=\"polder\">", Escape(absl::StrJoin(c.failures, "\n")), "</failure>\n");
  } else if (!c.skipped.empty()) {
    absl::StrAppend(&xml, "      <skipped message=\"", Escape(c.skipped), "\"/>\n");
  }
  if (!c.out.empty()) absl::StrAppend(&xml, "      <system-out>", Escape(c.out), "</system-out>\n");
  return xml + "    </testcase>\n";
}

}  // namespace

std::string ToJunit(const DiagnosticList& diagnostics, const std::string& revision,
                    const std::vector<Invariant>& invariants) {
  Case policy{"polder.policy", "policy is valid", "", 0, {}, "", ""};
  std::map<std::string, Case> by_invariant;
  std::vector<std::string> order;
  for (const Invariant& inv : invariants) {
    if (by_invariant.count(inv.name)) continue;
    order.push_back(inv.name);
    by_invariant[inv.name] = {
        "polder.invariants", inv.name, inv.location.file, inv.location.line, {}, "", ""};
  }
  for (const Diagnostic& d : diagnostics.items()) {
    if (d.code == "invariant-violated" && !d.invariant.empty()) {
      if (!by_invariant.count(d.invariant)) {
        order.push_back(d.invariant);
        by_invariant[d.invariant] = {
            "polder.invariants", d.invariant, d.location.file, d.location.line, {}, "", ""};
      }
      by_invariant[d.invariant].failures.push_back(Line(d));
    } else if (d.severity == Severity::kError) {
      policy.failures.push_back(Line(d));
    } else {
      absl::StrAppend(&policy.out, Line(d), "\n");
    }
  }
  std::vector<const Case*> cases{&policy};
  for (const std::string& name : order) {
    Case& c = by_invariant[name];
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
    absl::StrAppend(&xml, "    <properties><property name=\"revision\" value=\"", Escape(revision),
                    "\"/></properties>\n");
  }
  for (const Case* c : cases) absl::StrAppend(&xml, Render(*c));
  return xml + "  </testsuite>\n</testsuites>\n";
}

}  // namespace polder
