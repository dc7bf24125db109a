// A small certificate authority for a polder fleet, built on the OpenSSL
// library (no shell-outs), and the rules that turn a peer certificate into
// an identity.
//
// `InitPki(dir)` creates the CA and the controller's server certificate.
// `IssueAgent` / `IssueAdmin` create client certificates signed by that CA and
// write each into a directory that can be handed to `--tls-dir` as is:
//
//   DIR/ca.crt ca.key controller.crt controller.key      (controller)
//   DIR/agents/NAME/ca.crt agent.crt agent.key           (agent for host NAME)
//   DIR/admins/NAME/ca.crt admin.crt admin.key           (admin NAME)
//
// Roles are carried in the subject's OU (polder-agent, polder-admin,
// polder-controller); an agent certificate names its host in the CN and in
// a DNS SAN. Keys are ECDSA P-256, written with mode 0600.
#ifndef POLDER_PKI_PKI_H_
#define POLDER_PKI_PKI_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace polder::pki {

inline constexpr char kAgentUnit[] = "polder-agent";
inline constexpr char kAdminUnit[] = "polder-admin";
inline constexpr char kControllerUnit[] = "polder-controller";

struct InitOptions {
  // DNS names and IP addresses the controller is reached at, added as SANs
  // next to "localhost", 127.0.0.1 and ::1.
  std::vector<std::string> controller_names;
  std::vector<std::string> controller_addresses;
};

// Certificate lifetime; unset fields mean "now - 1 hour" and "now + 2 years".
// Tests use it to make expired certificates.
struct Validity {
  std::optional<absl::Time> not_before;
  std::optional<absl::Time> not_after;
};

// Creates DIR (if needed) with a new CA and controller certificate. Refuses
// to overwrite an existing CA.
absl::Status InitPki(const std::filesystem::path& dir, const InitOptions& options);

// Issues a client certificate for host `host` and returns its directory.
// Refuses (AlreadyExists) to replace a key that is already there unless
// `overwrite`: a replaced key cannot be recovered, and the agent using it
// would be locked out until it gets the new files.
absl::StatusOr<std::filesystem::path> IssueAgent(const std::filesystem::path& dir,
                                                 std::string_view host,
                                                 const Validity& validity = {},
                                                 bool overwrite = false);

// Issues an admin client certificate and returns its directory (same rule).
absl::StatusOr<std::filesystem::path> IssueAdmin(const std::filesystem::path& dir,
                                                 std::string_view name,
                                                 const Validity& validity = {},
                                                 bool overwrite = false);

enum class Role { kUnknown, kAgent, kAdmin, kController };

struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> dns_names;
  Role role = Role::kUnknown;
};

// Reads the identity of one PEM certificate (the peer's leaf).
absl::StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem);

// True when `id` is an agent certificate naming `host` (CN or DNS SAN).
bool NamesHost(const PeerIdentity& id, std::string_view host);

// The name an agent certificate stands for: its CN.
std::string AgentHost(const PeerIdentity& id);

}  // namespace polder::pki

#endif  // POLDER_PKI_PKI_H_
