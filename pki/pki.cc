#include "pki/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder::pki {
namespace {

namespace fs = std::filesystem;

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;

// OpenSSL reports errors on a thread-local queue; fold it into the status.
absl::Status SslError(absl::string_view what) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", buf);
  }
  return absl::InternalError(absl::StrCat(what, detail.empty() ? "" : ": ", detail));
}

bool ValidName(std::string_view name) {
  static const std::regex re("[a-z][a-z0-9_-]{0,62}");
  return std::regex_match(name.begin(), name.end(), re);
}

bool ValidDnsName(std::string_view name) {
  static const std::regex re("[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?");
  return std::regex_match(name.begin(), name.end(), re);
}

bool ValidAddress(const std::string& a) {
  unsigned char buf[16];
  return inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1;
}

absl::Status WriteFile(const fs::path& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path.string()));
  // The file may have existed with wider permissions.
  bool ok = ::fchmod(fd, mode) == 0;
  while (ok && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0)
      ok = false;
    else
      data.remove_prefix(static_cast<size_t>(n));
  }
  ok = (::close(fd) == 0) && ok;
  if (!ok) return absl::InternalError(absl::StrCat("error writing ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    return SslError("writing key");
  return BioString(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return SslError("writing certificate");
  return BioString(bio.get());
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return SslError("generating key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return SslError(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) return SslError("adding extension");
  return absl::OkStatus();
}

struct CertSpec {
  std::string common_name;
  std::string unit;
  bool is_ca = false;
  std::string extended_usage;     // serverAuth / clientAuth
  std::vector<std::string> sans;  // "DNS:x", "IP:y"
  Validity validity;
};

absl::Status SetValidity(X509* cert, const Validity& v) {
  absl::Time now = absl::Now();
  absl::Time from = v.not_before.value_or(now - absl::Hours(1));
  absl::Time to = v.not_after.value_or(now + absl::Hours(24 * 730));
  if (!ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(from)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(to)))
    return SslError("setting validity");
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* cert) {
  std::unique_ptr<BIGNUM, Deleter> bn(BN_new());
  if (!bn || !BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    return SslError("serial number");
  return absl::OkStatus();
}

// Builds and signs one certificate. `issuer`/`issuer_key` null = self-signed.
absl::StatusOr<Cert> MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                              EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2)) return SslError("new certificate");
  if (auto s = SetRandomSerial(cert.get()); !s.ok()) return s;
  if (auto s = SetValidity(cert.get(), spec.validity); !s.ok()) return s;
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& v) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(v.c_str()), -1, -1,
                                      0) == 1;
  };
  if (!add("O", "polder") || !add("OU", spec.unit) || !add("CN", spec.common_name))
    return SslError("subject");
  X509* signer = issuer ? issuer : cert.get();
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) ||
      !X509_set_pubkey(cert.get(), key))
    return SslError("issuer");
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, spec.is_ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE"},
      {NID_key_usage,
       spec.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyAgreement"},
      {NID_subject_key_identifier, "hash"},
  };
  if (issuer) exts.push_back({NID_authority_key_identifier, "keyid:always"});
  if (!spec.extended_usage.empty()) exts.push_back({NID_ext_key_usage, spec.extended_usage});
  if (!spec.sans.empty()) exts.push_back({NID_subject_alt_name, absl::StrJoin(spec.sans, ",")});
  for (const auto& [nid, value] : exts) {
    if (auto s = AddExtension(cert.get(), signer, nid, value); !s.ok()) return s;
  }
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()))
    return SslError("signing");
  return cert;
}

absl::Status WritePair(const fs::path& dir, const std::string& stem, X509* cert, EVP_PKEY* key) {
  auto cert_pem = CertPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyPem(key);
  if (!key_pem.ok()) return key_pem.status();
  if (auto s = WriteFile(dir / (stem + ".key"), *key_pem, 0600); !s.ok()) return s;
  return WriteFile(dir / (stem + ".crt"), *cert_pem, 0644);
}

struct Ca {
  Cert cert;
  Key key;
  std::string pem;
};

absl::StatusOr<Ca> LoadCa(const fs::path& dir) {
  auto cert_pem = ReadFile(dir / "ca.crt");
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadFile(dir / "ca.key");
  if (!key_pem.ok()) return key_pem.status();
  Bio cb(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  Bio kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  Ca ca{Cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)),
        Key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr)), *cert_pem};
  if (!ca.cert || !ca.key) return SslError(absl::StrCat("reading CA in ", dir.string()));
  return ca;
}

absl::StatusOr<fs::path> IssueClient(const fs::path& dir, std::string_view name, const char* unit,
                                     const std::string& stem, const std::string& subdir,
                                     const Validity& validity, bool overwrite) {
  if (!ValidName(name))
    return absl::InvalidArgumentError(absl::StrCat("invalid name '", std::string(name), "'"));
  fs::path existing = dir / subdir / std::string(name) / (stem + ".key");
  std::error_code exists_ec;
  if (!overwrite && fs::exists(existing, exists_ec)) {
    return absl::AlreadyExistsError(absl::StrCat(
        existing.string(), " already exists; give --force to replace the key and certificate"));
  }
  auto ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();
  auto key = NewKey();
  if (!key.ok()) return key.status();
  CertSpec spec{
      std::string(name), unit, false, "clientAuth", {absl::StrCat("DNS:", std::string(name))},
      validity};
  auto cert = MakeCert(spec, key->get(), ca->cert.get(), ca->key.get());
  if (!cert.ok()) return cert.status();
  fs::path out = dir / subdir / std::string(name);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", out.string()));
  if (auto s = WriteFile(out / "ca.crt", ca->pem, 0644); !s.ok()) return s;
  if (auto s = WritePair(out, stem, cert->get(), key->get()); !s.ok()) return s;
  return out;
}

}  // namespace

absl::Status InitPki(const fs::path& dir, const InitOptions& options) {
  std::vector<std::string> sans = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
  for (const auto& n : options.controller_names) {
    if (!ValidDnsName(n))
      return absl::InvalidArgumentError(absl::StrCat("invalid controller name '", n, "'"));
    sans.push_back("DNS:" + n);
  }
  for (const auto& a : options.controller_addresses) {
    if (!ValidAddress(a))
      return absl::InvalidArgumentError(absl::StrCat("invalid controller address '", a, "'"));
    sans.push_back("IP:" + a);
  }
  std::error_code ec;
  if (fs::exists(dir / "ca.key", ec))
    return absl::AlreadyExistsError(absl::StrCat(dir.string(), " already holds a CA"));
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir.string()));

  auto ca_key = NewKey();
  if (!ca_key.ok()) return ca_key.status();
  CertSpec ca_spec{"polder CA", "polder-ca", true, "", {}, {}};
  ca_spec.validity.not_after = absl::Now() + absl::Hours(24 * 3650);
  auto ca = MakeCert(ca_spec, ca_key->get(), nullptr, nullptr);
  if (!ca.ok()) return ca.status();

  auto key = NewKey();
  if (!key.ok()) return key.status();
  std::string cn =
      options.controller_names.empty() ? "polder-controller" : options.controller_names.front();
  CertSpec spec{cn, kControllerUnit, false, "serverAuth", sans, {}};
  auto cert = MakeCert(spec, key->get(), ca->get(), ca_key->get());
  if (!cert.ok()) return cert.status();
  if (auto s = WritePair(dir, "ca", ca->get(), ca_key->get()); !s.ok()) return s;
  return WritePair(dir, "controller", cert->get(), key->get());
}

absl::StatusOr<fs::path> IssueAgent(const fs::path& dir, std::string_view host,
                                    const Validity& validity, bool overwrite) {
  return IssueClient(dir, host, kAgentUnit, "agent", "agents", validity, overwrite);
}

absl::StatusOr<fs::path> IssueAdmin(const fs::path& dir, std::string_view name,
                                    const Validity& validity, bool overwrite) {
  return IssueClient(dir, name, kAdminUnit, "admin", "admins", validity, overwrite);
}

absl::StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("peer certificate is not valid PEM");
  PeerIdentity id;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto field = [&](int nid) -> std::optional<std::string> {
    // A subject with two entries of one kind is ambiguous; refuse it.
    int i = X509_NAME_get_index_by_NID(subject, nid, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(subject, nid, i) >= 0) return std::nullopt;
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  };
  id.common_name = field(NID_commonName).value_or("");
  std::string unit = field(NID_organizationalUnitName).value_or("");
  if (unit == kAgentUnit) id.role = Role::kAgent;
  if (unit == kAdminUnit) id.role = Role::kAdmin;
  if (unit == kControllerUnit) id.role = Role::kController;
  std::unique_ptr<GENERAL_NAMES, Deleter> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = n->d.dNSName;
    id.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return id;
}

bool NamesHost(const PeerIdentity& id, std::string_view host) {
  if (id.role != Role::kAgent || host.empty()) return false;
  if (id.common_name == host) return true;
  for (const auto& n : id.dns_names)
    if (n == host) return true;
  return false;
}

std::string AgentHost(const PeerIdentity& id) { return id.common_name; }

}  // namespace polder::pki
