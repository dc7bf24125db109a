// Compares two `nft list table` listings and says what differs, for drift reports. Lines are
// compared with the block they sit in ("chain input: tcp dport 22 accept"), so the same rule
// moving between chains is seen, and as multisets, so the cost stays linear for sets with a
// million elements (the order inside a block is not an nftables verdict concern for polder's
// sets, and rule order changes also change the lines around them).
#ifndef POLDER_AGENT_LISTING_DIFF_H_
#define POLDER_AGENT_LISTING_DIFF_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polder::agent {

// Returns "+ <context>: <line>" for lines only in `actual` and "- ..." for lines only in
// `desired`, at most `limit` entries (a final "... N more" entry counts the rest).
std::vector<std::string> DiffListings(absl::string_view desired, absl::string_view actual,
                                      size_t limit = 200);

}  // namespace polder::agent

#endif  // POLDER_AGENT_LISTING_DIFF_H_
