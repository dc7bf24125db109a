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
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace polder::pki {
namespace {

namespace fs = std::filesystem;

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
  // ASN1_TIME and ASN1_INTEGER are both ASN1_STRING.
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
  void operator()(char* p) const { OPENSSL_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;
using Crl = std::unique_ptr<X509_CRL, Deleter>;

constexpr char kCaDir[] = "ca";
constexpr char kControllerDir[] = "controller";
constexpr char kCrlFile[] = "crl.pem";
constexpr char kIssuedFile[] = "issued.tsv";

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

// Writes PATH.tmp and renames it over PATH: whoever reads PATH (an agent
// picking up a renewed certificate, the controller re-reading its CRL) sees
// the old file or the new one, never half of one.
absl::Status WriteFile(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
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
  ok = ::fsync(fd) == 0 && ok;
  ok = (::close(fd) == 0) && ok;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("error writing ", path.string()));
  }
  return absl::OkStatus();
}

absl::Status MakeDir(const fs::path& d, mode_t mode) {
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec || ::chmod(d.c_str(), mode) != 0)
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", d.string()));
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
  if (key != nullptr) {
    auto key_pem = KeyPem(key);
    if (!key_pem.ok()) return key_pem.status();
    if (auto s = WriteFile(dir / (stem + ".key"), *key_pem, 0600); !s.ok()) return s;
  }
  return WriteFile(dir / (stem + ".crt"), *cert_pem, 0644);
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  std::unique_ptr<BIGNUM, Deleter> bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return "";
  std::unique_ptr<char, Deleter> hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : "";
}

absl::StatusOr<Cert> ParseCert(std::string_view pem, std::string_view what) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is not a PEM certificate"));
  return cert;
}

absl::Time NotAfter(X509* cert) {
  struct tm t = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) return absl::InfinitePast();
  return absl::FromTM(t, absl::UTCTimeZone());
}

struct Ca {
  Cert cert;
  Key key;
  std::string pem;
};

absl::StatusOr<Ca> LoadCa(const fs::path& dir) {
  fs::path ca_dir = dir / kCaDir;
  std::error_code ec;
  if (!fs::exists(ca_dir / "ca.key", ec) && fs::exists(dir / "ca.key", ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir.string(), " has the CA key of an older layout in ", (dir / "ca.key").string(),
        "; move it into a directory of its own: mkdir -m 700 ", ca_dir.string(), " && mv ",
        (dir / "ca.key").string(), " ", ca_dir.string(), "/ && cp ", (dir / "ca.crt").string(), " ",
        ca_dir.string(), "/"));
  }
  auto cert_pem = ReadFile(ca_dir / "ca.crt");
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadFile(ca_dir / "ca.key");
  if (!key_pem.ok())
    return absl::NotFoundError(absl::StrCat("cannot read ", (ca_dir / "ca.key").string(),
                                            " (make a CA with polder pki init DIR)"));
  Bio cb(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  Bio kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  Ca ca{Cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)),
        Key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr)), *cert_pem};
  if (!ca.cert || !ca.key) return SslError(absl::StrCat("reading CA in ", ca_dir.string()));
  return ca;
}

// One line of DIR/ca/issued.tsv.
struct Issued {
  std::string kind;  // agent, admin, controller
  std::string name;
  std::string serial;
};

absl::Status RecordIssued(const fs::path& dir, const std::string& kind, const std::string& name,
                          X509* cert) {
  fs::path p = dir / kCaDir / kIssuedFile;
  std::ofstream out(p, std::ios::app);
  out << kind << '\t' << name << '\t' << SerialHex(X509_get0_serialNumber(cert)) << '\t'
      << absl::ToUnixSeconds(NotAfter(cert)) << '\n';
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot append to ", p.string()));
  return absl::OkStatus();
}

std::vector<Issued> ReadIssued(const fs::path& dir) {
  std::vector<Issued> out;
  std::ifstream in(dir / kCaDir / kIssuedFile);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() >= 3) out.push_back({f[0], f[1], f[2]});
  }
  return out;
}

// The CA certificate is copied into every directory handed to --tls-dir.
absl::Status WriteCaCopies(const fs::path& dir, const Ca& ca) {
  if (auto s = WriteFile(dir / "ca.crt", ca.pem, 0644); !s.ok()) return s;
  return WriteFile(dir / kControllerDir / "ca.crt", ca.pem, 0644);
}

// Signs a CRL listing `old` (entries kept with their dates) plus `add`.
absl::Status WriteCrl(const fs::path& dir, const Ca& ca, const X509_CRL* old,
                      const std::vector<std::string>& add, absl::Time now) {
  Crl crl(X509_CRL_new());
  std::unique_ptr<ASN1_TIME, Deleter> last(ASN1_TIME_set(nullptr, absl::ToTimeT(now)));
  std::unique_ptr<ASN1_TIME, Deleter> next(
      ASN1_TIME_set(nullptr, absl::ToTimeT(now + absl::Hours(24 * 3650))));
  if (!crl || !last || !next || !X509_CRL_set_version(crl.get(), 1) ||
      !X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) ||
      !X509_CRL_set1_lastUpdate(crl.get(), last.get()) ||
      !X509_CRL_set1_nextUpdate(crl.get(), next.get()))
    return SslError("new CRL");
  if (old != nullptr) {
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(const_cast<X509_CRL*>(old));
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
      X509_REVOKED* r = X509_REVOKED_dup(sk_X509_REVOKED_value(entries, i));
      if (r == nullptr || !X509_CRL_add0_revoked(crl.get(), r)) return SslError("CRL entry");
    }
  }
  for (const std::string& serial : add) {
    BIGNUM* raw = nullptr;
    if (!BN_hex2bn(&raw, serial.c_str())) return SslError("CRL serial");
    std::unique_ptr<BIGNUM, Deleter> bn(raw);
    std::unique_ptr<ASN1_INTEGER, Deleter> n(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    X509_REVOKED* r = X509_REVOKED_new();
    if (!n || r == nullptr || !X509_REVOKED_set_serialNumber(r, n.get()) ||
        !X509_REVOKED_set_revocationDate(r, last.get()) || !X509_CRL_add0_revoked(crl.get(), r)) {
      X509_REVOKED_free(r);
      return SslError("CRL entry");
    }
  }
  X509_CRL_sort(crl.get());
  if (!X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256())) return SslError("signing the CRL");
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509_CRL(bio.get(), crl.get())) return SslError("writing the CRL");
  std::string pem = BioString(bio.get());
  if (auto s = WriteFile(dir / kCrlFile, pem, 0644); !s.ok()) return s;
  return WriteFile(dir / kControllerDir / kCrlFile, pem, 0644);
}

struct ClientKind {
  const char* unit;
  std::string stem;    // agent / admin: file names and the issued.tsv kind
  std::string subdir;  // agents / admins
};

const ClientKind kAgentKind{kAgentUnit, "agent", "agents"};
const ClientKind kAdminKind{kAdminUnit, "admin", "admins"};

// DIR/agents/NAME (DIR/admins/NAME), or its file `stem`.key / .crt when `ext` is given.
fs::path ClientPath(const fs::path& dir, std::string_view name, const ClientKind& kind,
                    std::string_view ext = "") {
  fs::path d = dir / kind.subdir / std::string(name);
  return ext.empty() ? d : d / (kind.stem + std::string(ext));
}

absl::Status CheckName(std::string_view name) {
  if (!ValidName(name))
    return absl::InvalidArgumentError(
        absl::StrCat("invalid name '", std::string(name),
                     "' (lower-case letters, digits, '-' and '_', starting with a letter)"));
  return absl::OkStatus();
}

// Signs a client certificate for `key` and writes it (and `key`, unless
// null, which keeps the key file as it is) into its directory.
absl::StatusOr<fs::path> SignClient(const fs::path& dir, const Ca& ca, std::string_view name,
                                    const ClientKind& kind, EVP_PKEY* key, bool write_key,
                                    const Validity& validity) {
  CertSpec spec{
      std::string(name), kind.unit, false, "clientAuth", {absl::StrCat("DNS:", std::string(name))},
      validity};
  auto cert = MakeCert(spec, key, ca.cert.get(), ca.key.get());
  if (!cert.ok()) return cert.status();
  fs::path out = ClientPath(dir, name, kind);
  if (auto s = MakeDir(out, 0755); !s.ok()) return s;
  if (auto s = WriteFile(out / "ca.crt", ca.pem, 0644); !s.ok()) return s;
  if (auto s = WritePair(out, kind.stem, cert->get(), write_key ? key : nullptr); !s.ok()) return s;
  if (auto s = RecordIssued(dir, kind.stem, std::string(name), cert->get()); !s.ok()) return s;
  return out;
}

absl::StatusOr<fs::path> IssueClient(const fs::path& dir, std::string_view name,
                                     const ClientKind& kind, const Validity& validity,
                                     bool overwrite) {
  if (auto s = CheckName(name); !s.ok()) return s;
  fs::path existing = ClientPath(dir, name, kind, ".key");
  std::error_code exists_ec;
  if (!overwrite && fs::exists(existing, exists_ec)) {
    return absl::AlreadyExistsError(absl::StrCat(
        existing.string(), " already exists; give --force to replace the key and certificate"));
  }
  auto ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();
  auto key = NewKey();
  if (!key.ok()) return key.status();
  return SignClient(dir, *ca, name, kind, key->get(), true, validity);
}

absl::StatusOr<Crl> ReadCrlFile(const fs::path& p, const Ca& ca);

// Whether the certificate at `cert_path` is on the CA's CRL.
absl::StatusOr<bool> IsRevoked(const fs::path& dir, const Ca& ca, const fs::path& cert_path) {
  auto pem = ReadFile(cert_path);
  if (!pem.ok()) return false;  // no certificate: nothing revoked to renew
  auto cert = ParseCert(*pem, cert_path.string());
  if (!cert.ok()) return cert.status();
  auto crl = ReadCrlFile(dir / kCrlFile, ca);
  if (!crl.ok()) return crl.status();
  if (!*crl) return false;
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(crl->get(), &entry, X509_get0_serialNumber(cert->get())) == 1;
}

absl::StatusOr<fs::path> RenewClient(const fs::path& dir, std::string_view name,
                                     const ClientKind& kind, const Validity& validity,
                                     bool new_key) {
  if (auto s = CheckName(name); !s.ok()) return s;
  fs::path key_path = ClientPath(dir, name, kind, ".key");
  auto key_pem = ReadFile(key_path);
  if (!key_pem.ok())
    return absl::NotFoundError(absl::StrCat("nothing to renew: ", key_path.string(),
                                            " does not exist (use polder pki issue)"));
  auto ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();
  if (!new_key) {
    // A revoked certificate's key may be the reason it was revoked: a renewal
    // for the same key would let whoever holds it in again.
    fs::path cert_path = ClientPath(dir, name, kind, ".crt");
    absl::StatusOr<bool> revoked = IsRevoked(dir, *ca, cert_path);
    if (!revoked.ok()) return revoked.status();
    if (*revoked) {
      return absl::FailedPreconditionError(absl::StrCat(
          cert_path.string(), " is revoked, and its key may be why: renew with --new-key (a new ",
          "key and certificate) instead of giving the same key a new certificate"));
    }
  }
  Key key;
  if (new_key) {
    auto k = NewKey();
    if (!k.ok()) return k.status();
    key = std::move(*k);
  } else {
    Bio kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
    key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    if (!key) return SslError(absl::StrCat("reading ", key_path.string()));
  }
  return SignClient(dir, *ca, name, kind, key.get(), new_key, validity);
}

absl::StatusOr<Crl> ReadCrlFile(const fs::path& p, const Ca& ca) {
  auto pem = ReadFile(p);
  if (!pem.ok()) return Crl();  // no CRL yet
  Bio bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl || X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert.get())) != 1)
    return absl::FailedPreconditionError(
        absl::StrCat(p.string(), " is not a CRL signed by this CA; remove it to start anew"));
  return crl;
}

absl::StatusOr<int> RevokeClient(const fs::path& dir, std::string_view name, const ClientKind& kind,
                                 absl::Time now) {
  if (auto s = CheckName(name); !s.ok()) return s;
  auto ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();
  std::set<std::string> serials;
  for (const Issued& i : ReadIssued(dir))
    if (i.kind == kind.stem && i.name == name) serials.insert(i.serial);
  // A certificate issued before issued.tsv existed is still in its directory.
  fs::path cert_path = ClientPath(dir, name, kind, ".crt");
  if (auto pem = ReadFile(cert_path); pem.ok()) {
    auto cert = ParseCert(*pem, cert_path.string());
    if (!cert.ok()) return cert.status();
    serials.insert(SerialHex(X509_get0_serialNumber(cert->get())));
  }
  if (serials.empty())
    return absl::NotFoundError(absl::StrCat("no certificate was issued to ", kind.stem, " '",
                                            std::string(name), "' by the CA in ", dir.string()));
  auto old = ReadCrlFile(dir / kCrlFile, *ca);
  if (!old.ok()) return old.status();
  std::set<std::string> listed;
  if (*old) {
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(old->get());
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i)
      listed.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  }
  std::vector<std::string> add;
  for (const std::string& s : serials)
    if (!listed.count(s)) add.push_back(s);
  if (auto s = MakeDir(dir / kControllerDir, 0755); !s.ok()) return s;
  if (auto s = WriteCrl(dir, *ca, old->get(), add, now); !s.ok()) return s;
  return static_cast<int>(add.size());
}

}  // namespace

fs::path ControllerDir(const fs::path& dir) { return dir / kControllerDir; }

absl::StatusOr<fs::path> WriteBootstrapRuleset(const fs::path& dir, std::string_view host,
                                               std::string_view ruleset) {
  if (auto s = CheckName(host); !s.ok()) return s;
  fs::path out = dir / kAgentKind.subdir / std::string(host);
  if (auto s = MakeDir(out, 0755); !s.ok()) return s;
  fs::path file = out / "bootstrap.nft";
  if (auto s = WriteFile(file, ruleset, 0644); !s.ok()) return s;
  return file;
}

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
  if (fs::exists(dir / kCaDir / "ca.key", ec) || fs::exists(dir / "ca.key", ec))
    return absl::AlreadyExistsError(absl::StrCat(dir.string(), " already holds a CA"));
  if (auto s = MakeDir(dir, 0755); !s.ok()) return s;
  if (auto s = MakeDir(dir / kCaDir, 0700); !s.ok()) return s;
  if (auto s = MakeDir(dir / kControllerDir, 0755); !s.ok()) return s;

  auto ca_key = NewKey();
  if (!ca_key.ok()) return ca_key.status();
  CertSpec ca_spec{"polder CA", "polder-ca", true, "", {}, {}};
  ca_spec.validity.not_after = absl::Now() + absl::Hours(24 * 3650);
  auto ca_cert = MakeCert(ca_spec, ca_key->get(), nullptr, nullptr);
  if (!ca_cert.ok()) return ca_cert.status();

  auto key = NewKey();
  if (!key.ok()) return key.status();
  std::string cn =
      options.controller_names.empty() ? "polder-controller" : options.controller_names.front();
  CertSpec spec{cn, kControllerUnit, false, "serverAuth", sans, {}};
  auto cert = MakeCert(spec, key->get(), ca_cert->get(), ca_key->get());
  if (!cert.ok()) return cert.status();
  if (auto s = WritePair(dir / kCaDir, "ca", ca_cert->get(), ca_key->get()); !s.ok()) return s;
  auto ca_pem = CertPem(ca_cert->get());
  if (!ca_pem.ok()) return ca_pem.status();
  Ca ca{std::move(*ca_cert), std::move(*ca_key), *ca_pem};
  if (auto s = WriteCaCopies(dir, ca); !s.ok()) return s;
  if (auto s = WritePair(dir / kControllerDir, "controller", cert->get(), key->get()); !s.ok())
    return s;
  if (auto s = RecordIssued(dir, "controller", cn, cert->get()); !s.ok()) return s;
  // An empty CRL, so the controller's directory is complete from the start.
  return WriteCrl(dir, ca, nullptr, {}, absl::Now());
}

absl::StatusOr<fs::path> IssueAgent(const fs::path& dir, std::string_view host,
                                    const Validity& validity, bool overwrite) {
  return IssueClient(dir, host, kAgentKind, validity, overwrite);
}

absl::StatusOr<fs::path> IssueAdmin(const fs::path& dir, std::string_view name,
                                    const Validity& validity, bool overwrite) {
  return IssueClient(dir, name, kAdminKind, validity, overwrite);
}

absl::StatusOr<fs::path> RenewAgent(const fs::path& dir, std::string_view host,
                                    const Validity& validity, bool new_key) {
  return RenewClient(dir, host, kAgentKind, validity, new_key);
}

absl::StatusOr<fs::path> RenewAdmin(const fs::path& dir, std::string_view name,
                                    const Validity& validity, bool new_key) {
  return RenewClient(dir, name, kAdminKind, validity, new_key);
}

absl::StatusOr<int> RevokeAgent(const fs::path& dir, std::string_view host, absl::Time now) {
  return RevokeClient(dir, host, kAgentKind, now);
}

absl::StatusOr<int> RevokeAdmin(const fs::path& dir, std::string_view name, absl::Time now) {
  return RevokeClient(dir, name, kAdminKind, now);
}

absl::StatusOr<std::vector<std::string>> RevokedSerials(std::string_view crl_pem,
                                                        std::string_view ca_pem) {
  auto ca = ParseCert(ca_pem, "the CA certificate");
  if (!ca.ok()) return ca.status();
  Bio bio(BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size())));
  Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) return absl::InvalidArgumentError("the CRL is not a PEM X509 CRL");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca->get())) != 0 ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca->get())) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CRL is not signed by the CA in ca.crt");
  }
  std::vector<std::string> out;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i)
    out.push_back(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  return out;
}

absl::StatusOr<PeerIdentity> IdentityFromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("peer certificate is not valid PEM");
  PeerIdentity id;
  id.serial = SerialHex(X509_get0_serialNumber(cert.get()));
  id.not_after = NotAfter(cert.get());
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
