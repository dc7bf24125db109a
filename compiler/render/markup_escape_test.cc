#include "compiler/render/markup_escape.h"

#include <gtest/gtest.h>

namespace polder {
namespace {

TEST(MarkupEscapeTest, MarkupCharactersBecomeReferences) {
  EXPECT_EQ(MarkupEscape("<script>a & \"b\" 'c'</script>"),
            "&lt;script&gt;a &amp; &quot;b&quot; &#39;c&#39;&lt;/script&gt;");
}

TEST(MarkupEscapeTest, ControlCharactersOtherThanTabAndNewlineAreDropped) {
  EXPECT_EQ(MarkupEscape(std::string("a\x01\tb\nc\x1f", 7)), "a\tb\nc");
}

TEST(MarkupEscapeTest, OtherTextIsUnchanged) {
  EXPECT_EQ(MarkupEscape("zone db-1 ✓ 10.0.0.0/8"), "zone db-1 ✓ 10.0.0.0/8");
}

}  // namespace
}  // namespace polder
