// A small certificate authority for a polder fleet, built on the OpenSSL
// library (no shell-outs), and the rules that turn a peer certificate into
// an identity.
//
// `InitPki(dir)` creates the CA and the controller's server certificate.
// `IssueAgent` / `IssueAdmin` create client certificates signed by that CA and
// write each into a directory that can be handed to `--tls-dir` as is:
//
//   DIR/ca/ca.crt ca.key issued.tsv                       (the CA: never on the controller)
//   DIR/ca.crt crl.pem                                    (public: the CA certificate, the CRL)
//   DIR/controller/ca.crt controller.crt controller.key crl.pem   (controller --tls-dir)
//   DIR/agents/NAME/ca.crt agent.crt agent.key            (agent for host NAME)
//   DIR/admins/NAME/ca.crt admin.crt admin.key            (admin NAME)
//
// The CA's private key lives in DIR/ca/ (mode 0700, key 0600) so that the
// controller's directory can be copied to the controller without it.
// `Renew*` reissues a certificate for the same key (or a new one), `Revoke*`
// adds every certificate issued to a name to the CRL, which is written to
// DIR/crl.pem and DIR/controller/crl.pem. issued.tsv lists every certificate
// the CA signed (kind, name, serial, notAfter) so that a revocation also
// covers certificates a renewal replaced.
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

// Renews the certificate of host `host` (admin `name`): a new certificate
// with a new serial and validity, for the key already in its directory
// unless `new_key`. The files are replaced atomically (written beside and
// renamed), so an agent reading them at any moment sees the old pair or
// the new one. NotFound when nothing was issued to that name yet.
absl::StatusOr<std::filesystem::path> RenewAgent(const std::filesystem::path& dir,
                                                 std::string_view host,
                                                 const Validity& validity = {},
                                                 bool new_key = false);
absl::StatusOr<std::filesystem::path> RenewAdmin(const std::filesystem::path& dir,
                                                 std::string_view name,
                                                 const Validity& validity = {},
                                                 bool new_key = false);

// Revokes every certificate the CA issued to host `host` (admin `name`) and
// rewrites the CRL (DIR/crl.pem and DIR/controller/crl.pem, atomically).
// Returns how many serials were added; NotFound when nothing was issued to
// that name.
absl::StatusOr<int> RevokeAgent(const std::filesystem::path& dir, std::string_view host,
                                absl::Time now);
absl::StatusOr<int> RevokeAdmin(const std::filesystem::path& dir, std::string_view name,
                                absl::Time now);

// Writes `ruleset` (nftables, the compiler's format) as bootstrap.nft in
// host `host`'s directory, beside its certificate, and returns its path. The
// CLI renders it (pki links no compiler): `polder pki issue --controller`.
absl::StatusOr<std::filesystem::path> WriteBootstrapRuleset(const std::filesystem::path& dir,
                                                            std::string_view host,
                                                            std::string_view ruleset);

// The controller's --tls-dir inside a PKI directory.
std::filesystem::path ControllerDir(const std::filesystem::path& dir);

// The serials (uppercase hex, as CertificateFacts::serial) a PEM CRL lists,
// after checking that it is signed by the CA certificate `ca_pem`.
absl::StatusOr<std::vector<std::string>> RevokedSerials(std::string_view crl_pem,
                                                        std::string_view ca_pem);

enum class Role { kUnknown, kAgent, kAdmin, kController };

struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> dns_names;
  Role role = Role::kUnknown;
  std::string serial;    // uppercase hex, no leading zeros ("0" for zero)
  absl::Time not_after;  // the certificate's expiry
};

// Reads the identity of one PEM certificate (the peer's leaf).
absl::StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem);

// True when `id` is an agent certificate naming `host` (CN or DNS SAN).
bool NamesHost(const PeerIdentity& id, std::string_view host);

// The name an agent certificate stands for: its CN.
std::string AgentHost(const PeerIdentity& id);

}  // namespace polder::pki

#endif  // POLDER_PKI_PKI_H_
