#include "wire/tls_credentials.h"

#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace polder::wire {
namespace {

namespace fs = std::filesystem;

// PEM files are small; a huge or empty one is a mistake worth a clear error.
constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().empty() || s.str().size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(p.string(), " is empty or too large"));
  }
  return s.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const fs::path& dir) {
  auto ca = ReadPem(dir / "ca.crt");
  auto cert = ReadPem(dir / "controller.crt");
  auto key = ReadPem(dir / "controller.key");
  for (auto* s : {&ca, &cert, &key})
    if (!s->ok()) return s->status();
  grpc::SslServerCredentialsOptions opts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = *ca;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LoadClientCredentials(
    const fs::path& dir) {
  auto ca = ReadPem(dir / "ca.crt");
  if (!ca.ok()) return ca.status();
  for (const char* stem : {"admin", "agent"}) {
    std::error_code ec;
    if (!fs::exists(dir / absl::StrCat(stem, ".crt"), ec)) continue;
    auto cert = ReadPem(dir / absl::StrCat(stem, ".crt"));
    auto key = ReadPem(dir / absl::StrCat(stem, ".key"));
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = *ca;
    opts.pem_private_key = *key;
    opts.pem_cert_chain = *cert;
    return grpc::SslCredentials(opts);
  }
  return absl::NotFoundError(
      absl::StrCat(dir.string(), " holds neither admin.crt nor agent.crt (see polder pki issue)"));
}

}  // namespace polder::wire
