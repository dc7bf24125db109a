// Suggestions for misspelt keys and names ("did you mean `services`?").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace polder {

// The candidate closest to `word` by edit distance, if it is close enough to
// be a likely typo (two edits, or a third of the word's length, at most 3).
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean `x`?)" or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace polder
