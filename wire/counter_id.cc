#include "wire/counter_id.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace polder::wire {

std::string ElementCounterId(absl::string_view set, const NftElement& element) {
  // The kernel pads each part of a concatenation to 4 bytes (NFT_REG32 registers); a key of
  // one part is stored as it is.
  std::string key;
  for (const NftKeyPart& part : element.key) {
    key += part.from;
    if (element.key.size() > 1) key.append((4 - part.from.size() % 4) % 4, '\0');
  }
  return KernelElementCounterId(set, key);
}

std::string KernelElementCounterId(absl::string_view set, absl::string_view key) {
  return absl::StrCat(set, "/", absl::BytesToHexString(key));
}

std::string NamedCounterId(absl::string_view name) { return absl::StrCat("counter/", name); }

}  // namespace polder::wire
