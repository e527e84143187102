#include "common/qr/qr_code.h"

#include <expat.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

constexpr char kUri[] =
    "otpauth://totp/Acme%20Corp:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20Corp"
    "&algorithm=SHA1&digits=6&period=30";

// The elements of an XML document with their attributes, from expat (a real parser: a
// malformed document is an error, not a guess).
struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
};

bool ParseXml(const std::string& xml, std::vector<Element>* elements) {
  XML_Parser parser = XML_ParserCreate("UTF-8");
  XML_SetUserData(parser, elements);
  XML_SetStartElementHandler(parser, [](void* data, const XML_Char* name, const XML_Char** atts) {
    Element e{name, {}};
    for (int i = 0; atts[i] != nullptr; i += 2) e.attributes[atts[i]] = atts[i + 1];
    static_cast<std::vector<Element>*>(data)->push_back(std::move(e));
  });
  const bool ok = XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(parser);
  return ok;
}

// The unit squares "M x yh1v1h-1z" of the path, as (x, y) of their top-left corners.
std::set<std::pair<int, int>> Squares(const std::string& d) {
  std::set<std::pair<int, int>> squares;
  for (absl::string_view part : absl::StrSplit(d, 'M', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::EndsWith(part, "h1v1h-1z")) << part;
    std::vector<absl::string_view> xy = absl::StrSplit(part.substr(0, part.find('h')), ' ');
    int x = 0, y = 0;
    EXPECT_EQ(xy.size(), 2u);
    EXPECT_TRUE(absl::SimpleAtoi(xy[0], &x) && absl::SimpleAtoi(xy[1], &y)) << part;
    squares.insert({x, y});
  }
  return squares;
}

TEST(QrCodeTest, SymbolHasAValidSizeAndFinderPatterns) {
  absl::StatusOr<QrCode> qr = QrCode::Encode(kUri);
  ASSERT_TRUE(qr.ok()) << qr.status();
  // Versions 1..40 are 21 + 4(v-1) modules a side.
  EXPECT_GE(qr->size(), 21);
  EXPECT_LE(qr->size(), 177);
  EXPECT_EQ((qr->size() - 21) % 4, 0);
  // The three finder patterns: a dark 7x7 ring with a dark 3x3 centre, in three corners.
  for (auto [ox, oy] : {std::pair{0, 0}, {qr->size() - 7, 0}, {0, qr->size() - 7}}) {
    for (int i = 0; i < 7; ++i) {
      EXPECT_TRUE(qr->Dark(ox + i, oy) && qr->Dark(ox + i, oy + 6));
      EXPECT_TRUE(qr->Dark(ox, oy + i) && qr->Dark(ox + 6, oy + i));
    }
    EXPECT_FALSE(qr->Dark(ox + 1, oy + 1));
    EXPECT_TRUE(qr->Dark(ox + 3, oy + 3));
  }
  EXPECT_FALSE(qr->Dark(-1, 0));
  EXPECT_FALSE(qr->Dark(qr->size(), 0));
}

TEST(QrCodeTest, SvgIsWellFormedAndDrawsEveryDarkModule) {
  absl::StatusOr<QrCode> qr = QrCode::Encode(kUri);
  ASSERT_TRUE(qr.ok());
  const std::string svg = qr->ToSvg();
  std::vector<Element> elements;
  ASSERT_TRUE(ParseXml(svg, &elements)) << svg;
  ASSERT_EQ(elements.size(), 3u);
  EXPECT_EQ(elements[0].name, "svg");
  EXPECT_EQ(elements[0].attributes["xmlns"], "http://www.w3.org/2000/svg");
  const int side = qr->size() + 8;  // a quiet zone of 4 modules on every side
  EXPECT_EQ(elements[0].attributes["viewBox"], absl::StrCat("0 0 ", side, " ", side));
  EXPECT_EQ(elements[1].name, "rect");
  EXPECT_EQ(elements[1].attributes["width"], absl::StrCat(side));
  ASSERT_EQ(elements[2].name, "path");
  const std::set<std::pair<int, int>> squares = Squares(elements[2].attributes["d"]);
  std::set<std::pair<int, int>> dark;
  for (int y = 0; y < qr->size(); ++y) {
    for (int x = 0; x < qr->size(); ++x) {
      if (qr->Dark(x, y)) dark.insert({x + 4, y + 4});
    }
  }
  EXPECT_EQ(squares, dark);
}

TEST(QrCodeTest, HalfBlocksDrawTwoRowsPerLineWithAQuietZone) {
  absl::StatusOr<QrCode> qr = QrCode::Encode(kUri);
  ASSERT_TRUE(qr.ok());
  const std::string text = qr->ToHalfBlocks(2);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  const int side = qr->size() + 4;
  ASSERT_EQ(static_cast<int>(lines.size()), (side + 1) / 2);
  // Back to modules: a block's upper half is light row 2i, its lower half row 2i + 1.
  const std::map<std::string, std::pair<bool, bool>> glyphs = {{"\u2588", {true, true}},
                                                               {"\u2580", {true, false}},
                                                               {"\u2584", {false, true}},
                                                               {" ", {false, false}}};
  for (int line = 0; line < static_cast<int>(lines.size()); ++line) {
    int x = -2;
    for (size_t i = 0; i < lines[line].size(); ++x) {
      const size_t length = lines[line][i] == ' ' ? 1 : 3;
      auto glyph = glyphs.find(lines[line].substr(i, length));
      ASSERT_NE(glyph, glyphs.end()) << "line " << line;
      const int y = 2 * line - 2;
      EXPECT_EQ(glyph->second.first, !qr->Dark(x, y)) << x << "," << y;
      if (y + 1 < qr->size() + 2) {
        EXPECT_EQ(glyph->second.second, !qr->Dark(x, y + 1));
      }
      i += length;
    }
    EXPECT_EQ(x, qr->size() + 2) << "line " << line;
  }
  // The first line is all quiet zone.
  EXPECT_EQ(lines[0].find(' '), std::string::npos);
}

TEST(QrCodeTest, RefusesTextThatFitsInNoVersion) {
  EXPECT_EQ(QrCode::Encode(std::string(4000, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally
