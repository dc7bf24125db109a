#include "wire/counter_id.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace polder::wire {

std::string ElementCounterId(absl::string_view set, const NftElement& element) {
  std::string id = absl::StrCat(set, "/");
  for (size_t i = 0; i < element.key.size(); ++i) {
    absl::StrAppend(&id, i == 0 ? "" : ".", absl::BytesToHexString(element.key[i].from));
  }
  return id;
}

std::string NamedCounterId(absl::string_view name) { return absl::StrCat("counter/", name); }

}  // namespace polder::wire
