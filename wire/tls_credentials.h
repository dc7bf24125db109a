// The TLS files of polder.v1 and the gRPC credentials made from them, for
// both ends. `polder pki` writes the files:
//
//   controller --tls-dir D:  D/ca.crt, D/controller.crt, D/controller.key, D/crl.pem
//                            (polder pki init P writes it as P/controller/; a directory
//                            holding the CA's private key is refused)
//   agent      --tls-dir D:  D/ca.crt, D/agent.crt, D/agent.key
//   admin      --tls-dir D:  D/ca.crt, D/admin.crt, D/admin.key
//
// The server requires and verifies a client certificate
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY: the
// REQUEST_..._AND_VERIFY variant would admit a client without one); who the
// certificate names is checked per call by the controller (peer_auth.h).
#ifndef POLDER_WIRE_TLS_CREDENTIALS_H_
#define POLDER_WIRE_TLS_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

namespace polder::wire {

// The CRL (D/crl.pem) is not read here: the controller checks serials
// itself on every call and re-reads the file when it changes
// (controller/revocation_list.h).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const std::filesystem::path& dir);

// DIR/ca.crt plus admin.{crt,key} or, failing that, agent.{crt,key}. The
// agent calls it for every new connection, so renewed files are picked up
// without a restart.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientCredentials(
    const std::filesystem::path& dir);

}  // namespace polder::wire

#endif  // POLDER_WIRE_TLS_CREDENTIALS_H_
