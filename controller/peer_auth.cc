#include "controller/peer_auth.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"

namespace polder::controller {

absl::StatusOr<pki::PeerIdentity> PeerIdentityOf(const grpc::AuthContext& ctx) {
  auto pems = ctx.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!ctx.IsPeerAuthenticated() || pems.size() != 1)
    return absl::UnauthenticatedError("no verified client certificate");
  return pki::IdentityFromPem(std::string_view(pems.front().data(), pems.front().size()));
}

absl::Status AuthorizeAgent(const grpc::AuthContext& ctx, const std::string& host) {
  auto id = PeerIdentityOf(ctx);
  if (!id.ok()) return id.status();
  if (id->role != pki::Role::kAgent)
    return absl::PermissionDeniedError("certificate is not an agent certificate");
  if (!pki::NamesHost(*id, host))
    return absl::PermissionDeniedError(
        absl::StrCat("certificate of '", id->common_name, "' does not name host '", host, "'"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> AuthorizeAdmin(const grpc::AuthContext& ctx) {
  auto id = PeerIdentityOf(ctx);
  if (!id.ok()) return id.status();
  if (id->role != pki::Role::kAdmin)
    return absl::PermissionDeniedError("the Admin service needs an admin certificate");
  return id->common_name;
}

absl::Status CheckNotRevoked(const grpc::AuthContext& ctx, const RevocationList& revoked) {
  auto id = PeerIdentityOf(ctx);
  if (!id.ok()) return id.status();
  if (revoked.IsRevoked(id->serial))
    return absl::PermissionDeniedError(absl::StrCat("the certificate of '", id->common_name,
                                                    "' (serial ", id->serial,
                                                    ") has been revoked (polder pki revoke)"));
  return absl::OkStatus();
}

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace polder::controller
