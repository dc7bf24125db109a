#include "cli/pki_commands.h"

#include <iostream>
#include <memory>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "compiler/frontend/policy_loader.h"
#include "compiler/model/address.h"
#include "compiler/render/ruleset_renderer.h"
#include "pki/pki.h"

namespace polder::cli {
namespace {

struct ControllerEndpoint {
  std::string address;
  int port = 0;
};

absl::StatusOr<ControllerEndpoint> ParseEndpoint(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--controller '", text, "': ", why,
        " (give IPv4:PORT or [IPv6]:PORT, the address agents reach the controller at)"));
  };
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("no ]:PORT after the IPv6 address");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return bad("no :PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
  }
  if (!Address::Parse(host).ok())
    return bad("not an IP address (a bootstrap ruleset cannot resolve names)");
  int p = 0;
  if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) return bad("the port is not 1-65535");
  return ControllerEndpoint{host, p};
}

absl::StatusOr<int> RunPkiInit(const std::string& dir, const std::vector<std::string>& names,
                               const std::vector<std::string>& addresses) {
  if (auto s = pki::InitPki(dir, {names, addresses}); !s.ok()) {
    if (s.code() == absl::StatusCode::kInvalidArgument) return s;
    // Anything else is a refusal, such as a CA already in DIR (it is never overwritten).
    std::cerr << "polder: " << s.message() << "\n";
    return kExitFindings;
  }
  std::cout << "CA written to " << dir << "/ca (its private key: keep it off the controller)\n"
            << "controller certificate written to " << pki::ControllerDir(dir).string()
            << " (start the controller with --tls-dir " << pki::ControllerDir(dir).string()
            << ")\n";
  return kExitOk;
}

struct IssueArgs {
  std::string dir, host, admin, controller;
  bool force = false, host_dhcp = false;
};

absl::StatusOr<int> RunPkiIssue(const IssueArgs& a) {
  if (a.host.empty() == a.admin.empty())
    return absl::InvalidArgumentError("give exactly one of --host NAME or --admin NAME");
  if (!a.controller.empty() && a.host.empty())
    return absl::InvalidArgumentError(
        "--controller writes an agent's bootstrap ruleset: give --host");
  std::optional<std::string> bootstrap;
  if (!a.controller.empty()) {
    // Rendered first: a bad --controller leaves no half-issued certificate.
    auto r = RenderBootstrapRuleset(a.host, a.controller, a.host_dhcp);
    if (!r.ok()) return r.status();
    bootstrap = std::move(*r);
  }
  auto out = a.host.empty() ? pki::IssueAdmin(a.dir, a.admin, {}, a.force)
                            : pki::IssueAgent(a.dir, a.host, {}, a.force);
  if (!out.ok()) return out.status();
  std::cout << (a.host.empty() ? "admin" : "agent") << " certificate for "
            << (a.host.empty() ? a.admin : a.host) << " written to " << out->string()
            << " (use it as --tls-dir)\n";
  if (bootstrap) {
    auto file = pki::WriteBootstrapRuleset(a.dir, a.host, *bootstrap);
    if (!file.ok()) return file.status();
    std::cout << "bootstrap ruleset written to " << file->string()
              << " (polder-agent --boot --bootstrap FILE enforces it until the agent first "
                 "reaches the controller at "
              << a.controller << ")\n";
  }
  return kExitOk;
}

absl::StatusOr<int> RunPkiRenew(const std::string& dir, const std::string& host,
                                const std::string& admin, bool new_key) {
  if (host.empty() == admin.empty())
    return absl::InvalidArgumentError("give exactly one of --host NAME or --admin NAME");
  auto out = host.empty() ? pki::RenewAdmin(dir, admin, {}, new_key)
                          : pki::RenewAgent(dir, host, {}, new_key);
  if (!out.ok()) return out.status();
  std::string stem = host.empty() ? "admin" : "agent";
  std::cout << stem << " certificate for " << (host.empty() ? admin : host) << " renewed in "
            << out->string() << " ("
            << (new_key ? absl::StrCat("new key: copy ", stem, ".crt and ", stem, ".key")
                        : absl::StrCat("same key: copy ", stem, ".crt"))
            << " to the host; a running agent uses it from its next connection)\n";
  return kExitOk;
}

absl::StatusOr<int> RunPkiRevoke(const std::string& dir, const std::string& host,
                                 const std::string& admin) {
  if (host.empty() == admin.empty())
    return absl::InvalidArgumentError("give exactly one of --host NAME or --admin NAME");
  auto n = host.empty() ? pki::RevokeAdmin(dir, admin, absl::Now())
                        : pki::RevokeAgent(dir, host, absl::Now());
  if (!n.ok()) return n.status();
  std::cout << "revoked " << *n << " certificate(s) of " << (host.empty() ? "admin " : "host ")
            << (host.empty() ? admin : host) << "; CRL written to " << dir << "/crl.pem and "
            << (pki::ControllerDir(dir) / "crl.pem").string()
            << " (a controller reading that directory refuses them within seconds; copy the "
               "file there if it runs elsewhere)\n";
  return kExitOk;
}

}  // namespace

absl::StatusOr<std::string> RenderBootstrapRuleset(const std::string& host,
                                                   const std::string& controller, bool host_dhcp) {
  auto endpoint = ParseEndpoint(controller);
  if (!endpoint.ok()) return endpoint.status();
  // A one-host policy without flows: what is left is loopback, established traffic, the host
  // essentials and the controller (anti-lockout). The host's own address does not appear in a
  // ruleset; a documentation address stands in for it.
  std::string yaml =
      absl::StrCat("settings:\n  controller: { addresses: [\"", endpoint->address,
                   "\"], port: ", endpoint->port, " }\n  host_dhcp: ", host_dhcp ? "true" : "false",
                   "\nzones:\n  - { name: bootstrap, cidrs: [192.0.2.1/32] }\n"
                   "hosts:\n  - { name: \"",
                   host, "\", addresses: [192.0.2.1] }\n");
  LoadResult loaded = LoadPolicyFromFiles({{"bootstrap.yaml", yaml}});
  if (loaded.diagnostics.HasErrors()) {
    std::string first;
    for (const auto& d : loaded.diagnostics.items()) {
      if (d.severity != Severity::kError) continue;
      first = d.message;
      break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("cannot make a bootstrap ruleset for host '", host, "': ", first));
  }
  auto id = loaded.policy.FindHost(host);
  if (!id) return absl::InternalError("bootstrap policy lost its host");
  return RenderRuleset(loaded.policy, *id);
}

void AddPkiCommands(CLI::App& app, ChosenCommand& chosen) {
  auto* pki =
      app.add_subcommand("pki", "Certificates for mutual TLS between controller and agents");
  pki->require_subcommand(1);

  auto* init = pki->add_subcommand(
      "init", "Create a CA (DIR/ca) and the controller's certificate (DIR/controller)");
  auto dir = std::make_shared<std::string>();
  auto names = std::make_shared<std::vector<std::string>>();
  auto addrs = std::make_shared<std::vector<std::string>>();
  init->add_option("DIR", *dir, "Directory to create")->required();
  init->add_option("--controller-name", *names, "DNS name of the controller (repeatable)");
  init->add_option("--controller-address", *addrs, "IP address of the controller (repeatable)");
  OnChosen(init, chosen, [=] { return RunPkiInit(*dir, *names, *addrs); });

  auto* issue = pki->add_subcommand("issue", "Issue an agent or admin certificate from DIR's CA");
  auto ia = std::make_shared<IssueArgs>();
  issue->add_option("DIR", ia->dir, "Directory made by `polder pki init`")->required();
  auto* h = issue->add_option("--host", ia->host, "Host name the agent runs for");
  auto* a = issue->add_option("--admin", ia->admin, "Name of the administrator");
  h->excludes(a);
  issue->add_flag("--force", ia->force, "Replace an existing key and certificate");
  issue->add_option("--controller", ia->controller,
                    "ADDR:PORT of the controller: also write bootstrap.nft beside the "
                    "certificate, allowing only the controller, loopback and host essentials");
  issue->add_flag("--host-dhcp", ia->host_dhcp,
                  "The bootstrap ruleset also allows the DHCP client (a host that gets its "
                  "address by DHCP)");
  OnChosen(issue, chosen, [=] { return RunPkiIssue(*ia); });

  auto* renew = pki->add_subcommand(
      "renew",
      "Issue a new certificate for an existing agent or admin (same key unless --new-key)");
  auto rdir = std::make_shared<std::string>();
  auto rhost = std::make_shared<std::string>();
  auto radmin = std::make_shared<std::string>();
  auto new_key = std::make_shared<bool>(false);
  renew->add_option("DIR", *rdir, "Directory made by `polder pki init`")->required();
  auto* rh = renew->add_option("--host", *rhost, "Host whose agent certificate to renew");
  auto* ra = renew->add_option("--admin", *radmin, "Administrator whose certificate to renew");
  rh->excludes(ra);
  renew->add_flag("--new-key", *new_key, "Make a new key too (then copy both files)");
  OnChosen(renew, chosen, [=] { return RunPkiRenew(*rdir, *rhost, *radmin, *new_key); });

  auto* revoke =
      pki->add_subcommand("revoke",
                          "Revoke every certificate of an agent or admin: writes DIR/crl.pem and "
                          "DIR/controller/crl.pem");
  auto vdir = std::make_shared<std::string>();
  auto vhost = std::make_shared<std::string>();
  auto vadmin = std::make_shared<std::string>();
  revoke->add_option("DIR", *vdir, "Directory made by `polder pki init`")->required();
  auto* vh = revoke->add_option("--host", *vhost, "Host whose agent certificates to revoke");
  auto* va = revoke->add_option("--admin", *vadmin, "Administrator whose certificates to revoke");
  vh->excludes(va);
  OnChosen(revoke, chosen, [=] { return RunPkiRevoke(*vdir, *vhost, *vadmin); });
}

}  // namespace polder::cli
