#include "compiler/model/diagnostic_codes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace polder {

const std::vector<DiagnosticCode>& AllDiagnosticCodes() {
  static const std::vector<DiagnosticCode>* const kCodes = [] {
    auto* codes = new std::vector<DiagnosticCode>{
        {"address-outside-zone", "A host address lies outside its zone's prefixes",
         "Give the host an address inside its zone, or move the host to the zone that holds "
         "the address."},
        {"carved-out",
         "A zone carves addresses out of a larger zone and loses that zone's allow flows",
         "Add the flows the carved-out zone still needs (they are named in the message), or "
         "remove the more specific prefix."},
        {"controller-zone-shared",
         "The controller's zone holds other hosts, which the anti-lockout opens to every "
         "managed host",
         "Give the controller's addresses a zone of their own."},
        {"duplicate-name", "A name is defined twice",
         "Rename one of the two definitions; both places are named in the message."},
        {"empty-zone", "A zone has no prefixes", "Give the zone at least one `cidrs` entry."},
        {"expired-flow", "A flow has expired and has no effect",
         "Remove the flow, or extend `expires` with a reason, owner and ticket."},
        {"expiring-soon", "A flow expires soon (see --warn-expiry)",
         "Renew it with its owner or let it lapse on purpose."},
        {"external-to-external", "A flow joins two external zones, which nothing enforces",
         "Name a managed zone on one side, or remove the flow."},
        {"host-without-flows",
         "A host and its zone are named by no active flow, so its agent drops every new "
         "connection",
         "Add the flows the host needs, or remove the host."},
        {"invalid-cidr", "A prefix is not valid (syntax, length, or host bits set)",
         "Write it as ADDRESS/LENGTH with the host bits zero, e.g. 10.1.0.0/24."},
        {"invalid-port", "A port, range or ICMP type is not valid",
         "Write tcp/443, udp/1000-2000, icmp/echo-request, icmpv6/echo-request or any."},
        {"invariant-violated", "An invariant of the policy does not hold",
         "Follow the shortest path in the message: remove or narrow the flow that makes one of "
         "its edges, or add a deny."},
        {"limit-exceeded", "The input is beyond a limit of spec §10",
         "Split the file, flatten the nesting, or remove the alias expansion named in the "
         "message."},
        {"negated-flow", "An allow flow is entirely removed by denies",
         "Remove the allow flow or narrow the deny."},
        {"no-common-family", "A flow's ends share no address family, so it allows nothing",
         "Give both ends IPv4 or both IPv6 addresses, or remove the flow."},
        {"not-a-reach-invariant", "A posture's `keep` names an invariant that is not a `reach`",
         "Name a `reach` invariant, or write the `reach` inline."},
        {"parse-error", "The file is not valid YAML or a value has the wrong shape",
         "Fix the syntax at the position given; the message names the likely cause."},
        {"private-in-external",
         "Internal address space that no internal zone claims counts as an external zone",
         "Add a zone for the unassigned internal ranges named in the message."},
        {"shadowed-flow", "An allow flow is already covered by another flow",
         "Remove the redundant flow or merge the two."},
        {"sources-outside-from", "A flow's `sources` hold no address of its `from`",
         "Fix `sources` or `from`."},
        {"unenforced-flow", "Neither side of a flow has a managed host, so nobody enforces it",
         "Add the hosts that enforce it, or remove the flow."},
        {"unknown-key", "A key is not part of the policy language",
         "Check the spelling against the did-you-mean suggestion and spec."},
        {"unknown-ref", "A reference names no defined zone, host, service, invariant or posture",
         "Define the name, or fix the spelling (the message suggests the closest name)."},
        {"unused-deny", "A deny flow removes nothing", "Remove the deny or fix its ends."},
        {"unused-service", "A service is used by no flow or invariant", "Remove the service."},
        {"unused-zone", "A zone is named by no flow and no invariant",
         "Add the flows it needs, or remove the zone."},
        {"wide-exposure",
         "An allow flow from an external zone opens more than 16 ports, or `any`",
         "Name the ports the service needs."},
    };
    std::sort(codes->begin(), codes->end(), [](const DiagnosticCode& a, const DiagnosticCode& b) {
      return absl::string_view(a.code) < absl::string_view(b.code);
    });
    return codes;
  }();
  return *kCodes;
}

const DiagnosticCode* FindDiagnosticCode(absl::string_view code) {
  for (const DiagnosticCode& c : AllDiagnosticCodes()) {
    if (code == c.code) return &c;
  }
  return nullptr;
}

std::string DiagnosticCodesMarkdown() {
  std::string out =
      "# Diagnostic codes\n\n"
      "Every code `polder check` (and the commands that load a policy) can report, with what\n"
      "it means and how to fix it. Generated from `compiler/model/diagnostic_codes.cc` by\n"
      "`polder help codes --format markdown`; a test keeps this file equal to it. SARIF\n"
      "output links each rule here.\n";
  for (const DiagnosticCode& c : AllDiagnosticCodes()) {
    absl::StrAppend(&out, "\n## ", c.code, "\n\n", c.summary, ".\n\nFix: ", c.fix, "\n");
  }
  return out;
}

}  // namespace polder
