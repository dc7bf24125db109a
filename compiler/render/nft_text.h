// The nft text of a structured ruleset (wire/nft_ruleset.h): what `polder
// compile` prints and `nft -f` loads. The renderer builds the structure and
// prints it with this, so the text and the wire form cannot disagree.
//
// Order in the text: plain sets, then the chains nothing hooks (the ones a
// verdict map or rule jumps to), then verdict maps, then base chains — each
// object is declared before anything that refers to it, as one `nft -f`
// transaction needs.
#pragma once

#include <string>

#include "wire/nft_ruleset.h"

namespace polder {

// `table inet polder { ... }\n`.
std::string FormatNftTable(const wire::NftRuleset& ruleset);

// An element's key as nft prints it, e.g. "10.10.2.0/24" or "tcp . 22" (no map data).
std::string FormatNftElementKey(const wire::NftSet& set, const wire::NftElement& element);

// One rule as nft prints it, e.g. "ip saddr vmap @in4" (no comment line).
std::string FormatNftRule(const wire::NftRule& rule);

}  // namespace polder
