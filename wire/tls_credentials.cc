#include "wire/tls_credentials.h"

#include <grpcpp/security/credentials.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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

// A renewal with a new key replaces two files; read between the two renames,
// they do not belong together, and gRPC would only fail the handshake.
absl::Status CheckPair(const fs::path& cert_path, const std::string& cert_pem,
                       const std::string& key_pem) {
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  X509* cert = cb ? PEM_read_bio_X509(cb, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key = kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  bool ok = cert != nullptr && key != nullptr && X509_check_private_key(cert, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cb);
  BIO_free(kb);
  ERR_clear_error();
  if (!ok)
    return absl::InvalidArgumentError(absl::StrCat(
        cert_path.string(), " and its key do not form a pair (unreadable, or being replaced)"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const fs::path& dir) {
  std::error_code ec;
  for (const fs::path& key : {dir / "ca.key", dir / "ca" / "ca.key"}) {
    if (fs::exists(key, ec)) {
      bool pki_root = fs::exists(dir / "controller" / "controller.crt", ec);
      return absl::FailedPreconditionError(absl::StrCat(
          dir.string(), " holds the CA's private key (", key.string(),
          "); the controller must not: ",
          pki_root ? absl::StrCat("give --tls-dir ", (dir / "controller").string())
                   : "start it with a directory holding only ca.crt, controller.crt, "
                     "controller.key and crl.pem (polder pki init DIR writes DIR/controller/)"));
    }
  }
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
    if (auto s = CheckPair(dir / absl::StrCat(stem, ".crt"), *cert, *key); !s.ok()) return s;
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
