// Text inside HTML or XML: the one escape every page and report uses (the
// JUnit file, the HTML report, the drill report).
//
//   MarkupEscape("a<b & 'c'")  ==  "a&lt;b &amp; &#39;c&#39;"
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace polder {

// & < > " ' become character references (&#39; is valid in XML and in every
// HTML), so that text is never markup; control characters other than tab
// and newline are dropped, because XML 1.0 forbids them even escaped and
// HTML does not allow them in text either.
std::string MarkupEscape(absl::string_view text);

}  // namespace polder
