// The policy revision: SHA-256 of a normalised form of the resolved policy.
//
// The normal form sorts everything that has no meaning in its order (files,
// zones, hosts, lists of names, flows) and leaves out positions and default
// flow names, so the same policy gives the same revision whatever the file
// layout or formatting; any change of meaning gives a new one.
#pragma once

#include <string>

#include "compiler/model/policy.h"

namespace polder {

std::string NormalisedPolicy(const Policy& policy);  // canonical text, one line per object
std::string ComputeRevision(const Policy& policy);   // 64 lower-case hex digits

}  // namespace polder
