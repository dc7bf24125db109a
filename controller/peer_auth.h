// Who is on the other end of a gRPC call. TLS has already proven that the
// peer holds a key for a certificate our CA signed; this decides what that
// certificate allows: agents act only for the host they name, and only
// admin certificates reach the Admin service.
#ifndef POLDER_CONTROLLER_PEER_AUTH_H_
#define POLDER_CONTROLLER_PEER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "controller/revocation_list.h"
#include "pki/pki.h"

namespace polder::controller {

// The peer's identity from its verified leaf certificate.
absl::StatusOr<pki::PeerIdentity> PeerIdentityOf(const grpc::AuthContext& ctx);

// OK when the peer may act as agent for `host`, else PERMISSION_DENIED.
absl::Status AuthorizeAgent(const grpc::AuthContext& ctx, const std::string& host);

// The admin's name when the peer holds an admin certificate, else
// PERMISSION_DENIED.
absl::StatusOr<std::string> AuthorizeAdmin(const grpc::AuthContext& ctx);

// PERMISSION_DENIED when the peer's certificate is on the CRL (or the peer
// has none to check); the message names the certificate.
absl::Status CheckNotRevoked(const grpc::AuthContext& ctx, const RevocationList& revoked);

grpc::Status ToGrpc(const absl::Status& s);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_PEER_AUTH_H_
