#include "controller/revocation_list.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "pki/pki.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxCrlBytes = 16 << 20;

// nullopt when the file does not exist.
absl::StatusOr<std::optional<std::string>> ReadSmallFile(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  // The size first, so a huge file is refused without being read into memory.
  if (uintmax_t size = fs::file_size(p, ec); !ec && size > kMaxCrlBytes)
    return absl::InvalidArgumentError(absl::StrCat(p.string(), " is larger than 16 MiB"));
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read ", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > kMaxCrlBytes)
    return absl::InvalidArgumentError(absl::StrCat(p.string(), " is larger than 16 MiB"));
  return s.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RevocationList>> RevocationList::Load(fs::path crl,
                                                                     fs::path ca_cert) {
  std::unique_ptr<RevocationList> list(new RevocationList(std::move(crl), std::move(ca_cert)));
  if (auto r = list->Refresh(); !r.ok()) return r.status();
  return list;
}

bool RevocationList::IsRevoked(const std::string& serial) const {
  absl::MutexLock lock(&mu_);
  return revoked_.count(serial) > 0;
}

size_t RevocationList::size() const {
  absl::MutexLock lock(&mu_);
  return revoked_.size();
}

absl::StatusOr<bool> RevocationList::Refresh() {
  auto text = ReadSmallFile(crl_);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return false;
  {
    absl::MutexLock lock(&mu_);
    if (**text == last_text_) return false;
  }
  auto ca = ReadSmallFile(ca_cert_);
  if (!ca.ok()) return ca.status();
  if (!ca->has_value()) return absl::NotFoundError(absl::StrCat("cannot read ", ca_cert_.string()));
  auto serials = pki::RevokedSerials(**text, **ca);
  if (!serials.ok())
    return absl::InvalidArgumentError(absl::StrCat(crl_.string(), ": ", serials.status().message(),
                                                   " (write it with polder pki revoke)"));
  std::set<std::string> revoked(serials->begin(), serials->end());
  absl::MutexLock lock(&mu_);
  last_text_ = std::move(**text);
  bool changed = revoked != revoked_;
  revoked_ = std::move(revoked);
  return changed;
}

}  // namespace polder::controller
