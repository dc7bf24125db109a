// Set elements in words for drift reports. A big table's snapshot keeps each element as the
// kernel's netlink attributes in hex ("1=080001000a630001 2=18000200..."), which is what makes
// comparing 200k elements cheap but tells an operator nothing. ElementText turns such a line
// back into nft-like text with the set's declaration: "10.99.0.1 : jump in_p1",
// "10.99.0.2 (end of the range before, exclusive)", "tcp . 5432". What it cannot read it leaves
// as it was, so a report never loses a line.
#ifndef POLDER_AGENT_ELEMENT_TEXT_H_
#define POLDER_AGENT_ELEMENT_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "wire/nft_ruleset.h"

namespace polder::agent {

std::string ElementText(absl::string_view line, const wire::NftSet& set);

}  // namespace polder::agent

#endif  // POLDER_AGENT_ELEMENT_TEXT_H_
