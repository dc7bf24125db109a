// The certificates the controller refuses: the serials of the CRL that
// `polder pki revoke` writes into the controller's --tls-dir (crl.pem),
// checked against the CA certificate beside it.
//
// gRPC 1.51 has no CRL provider, and OpenSSL's CRL directory cache does not
// re-read a file that was rewritten, so the controller does it itself: every
// call's peer certificate is looked up here (RevocationCheck, server.cc), and
// Refresh() re-reads the file, which the server calls periodically to close
// open streams whose certificate has been revoked since they started.
#ifndef POLDER_CONTROLLER_REVOCATION_LIST_H_
#define POLDER_CONTROLLER_REVOCATION_LIST_H_

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace polder::controller {

class RevocationList {
 public:
  // Reads `crl` now. A missing file means nothing is revoked (a directory
  // made before CRLs existed); a CRL that is not signed by `ca_cert` is an
  // error naming the file.
  static absl::StatusOr<std::unique_ptr<RevocationList>> Load(std::filesystem::path crl,
                                                              std::filesystem::path ca_cert);

  // `serial` as pki::PeerIdentity::serial.
  bool IsRevoked(const std::string& serial) const;
  size_t size() const;

  // Re-reads the file; true when the list of serials changed. A file that
  // became unreadable or badly signed leaves the last good list in force and
  // returns the error (the caller logs it); a file that disappeared keeps it
  // too: a revocation is never undone by deleting the CRL.
  absl::StatusOr<bool> Refresh();

 private:
  RevocationList(std::filesystem::path crl, std::filesystem::path ca_cert)
      : crl_(std::move(crl)), ca_cert_(std::move(ca_cert)) {}

  const std::filesystem::path crl_;
  const std::filesystem::path ca_cert_;
  mutable absl::Mutex mu_;
  std::string last_text_ ABSL_GUARDED_BY(mu_);  // the file as last read
  std::set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_REVOCATION_LIST_H_
