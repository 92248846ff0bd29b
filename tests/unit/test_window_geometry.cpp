// The one definition of Conv, ConvTranspose and pool windows (quantscope/window_geometry.h),
// against windows counted one by one: a window is a start position, every start a stride
// apart from the first padded position, that ends inside the padded input.
#include <gtest/gtest.h>

#include "quantscope/window_geometry.h"

using namespace qs;

namespace {

Node window_node(const std::string& op, const std::string& auto_pad, std::int64_t stride,
                 std::int64_t dilation, std::int64_t pad_begin, std::int64_t pad_end) {
  Node n;
  n.name = "w";
  n.op_type = op;
  if (!auto_pad.empty()) n.attributes["auto_pad"].value = auto_pad;
  n.attributes["strides"].value = std::vector<std::int64_t>{stride};
  n.attributes["dilations"].value = std::vector<std::int64_t>{dilation};
  n.attributes["pads"].value = std::vector<std::int64_t>{pad_begin, pad_end};
  return n;
}

// Windows of `extent` starting every `stride` from -pad_begin that end by in + pad_end.
std::int64_t count_windows(std::int64_t in, std::int64_t extent, std::int64_t stride,
                           std::int64_t pad_begin, std::int64_t pad_end) {
  std::int64_t count = 0;
  for (std::int64_t start = -pad_begin; start + extent <= in + pad_end; start += stride) ++count;
  return count;
}

}  // namespace

TEST(WindowGeometry, ConvWindowsAreTheOnesThatFitThePaddedInput) {
  for (std::int64_t in = 1; in <= 9; ++in)
    for (std::int64_t k = 1; k <= 4; ++k)
      for (std::int64_t s = 1; s <= 3; ++s)
        for (std::int64_t d = 1; d <= 2; ++d)
          for (std::int64_t p = 0; p <= 2; ++p) {
            const Node n = window_node("Conv", "", s, d, p, p / 2);
            WindowGeometry g;
            const std::string why = conv_window(n, {1, 1, in}, {1, 1, k}, g);
            const std::int64_t want = count_windows(in, (k - 1) * d + 1, s, p, p / 2);
            SCOPED_TRACE("in " + std::to_string(in) + " k " + std::to_string(k) + " s " +
                         std::to_string(s) + " d " + std::to_string(d) + " p " + std::to_string(p));
            if (want == 0) {
              EXPECT_NE(why.find("larger than the padded input"), std::string::npos) << why;
              continue;
            }
            ASSERT_EQ(why, "");
            EXPECT_EQ(g.out, std::vector<std::int64_t>{want});
            EXPECT_EQ(g.pad_begin[0], p);
            EXPECT_EQ(g.pad_end[0], p / 2);
          }
}

TEST(WindowGeometry, SamePadsGiveOneOutputPerStrideWithTheOddPadWhereNamed) {
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER"})
    for (std::int64_t in = 1; in <= 9; ++in)
      for (std::int64_t k = 1; k <= 4; ++k)
        for (std::int64_t s = 1; s <= 3; ++s) {
          SCOPED_TRACE(mode + " in " + std::to_string(in) + " k " + std::to_string(k) + " s " +
                       std::to_string(s));
          WindowGeometry g;
          ASSERT_EQ(conv_window(window_node("Conv", mode, s, 1, 0, 0), {1, 1, in}, {1, 1, k}, g),
                    "");
          EXPECT_EQ(g.out[0], (in + s - 1) / s);
          // The windows counted with these pads are exactly the outputs, and the pads differ by
          // at most one, the larger at the end for SAME_UPPER.
          EXPECT_EQ(count_windows(in, k, s, g.pad_begin[0], g.pad_end[0]), g.out[0]);
          const std::int64_t extra =
              mode == "SAME_UPPER" ? g.pad_end[0] - g.pad_begin[0] : g.pad_begin[0] - g.pad_end[0];
          EXPECT_TRUE(extra == 0 || extra == 1) << g.pad_begin[0] << " " << g.pad_end[0];
          // And no window more would fit: the total pad is the least that gives them.
          EXPECT_LT(count_windows(in, k, s, 0, g.pad_begin[0] + g.pad_end[0] - 1), g.out[0] + 1);
        }
}

TEST(WindowGeometry, CeilModeAddsAWindowThatStartsBeforeTheTrailingPadding) {
  for (std::int64_t in = 1; in <= 9; ++in)
    for (std::int64_t k = 1; k <= 3; ++k)
      for (std::int64_t s = 1; s <= 3; ++s)
        for (std::int64_t p = 0; p < k; ++p) {
          Node n = window_node("MaxPool", "", s, 1, p, p);
          n.attributes["kernel_shape"].value = std::vector<std::int64_t>{k};
          n.attributes["ceil_mode"].value = std::int64_t{1};
          if (in + 2 * p < k) continue;
          SCOPED_TRACE("in " + std::to_string(in) + " k " + std::to_string(k) + " s " +
                       std::to_string(s) + " p " + std::to_string(p));
          WindowGeometry g;
          ASSERT_EQ(pool_window(n, {1, 1, in}, g), "");
          // Every start from -p by s that begins inside the input or the leading padding and
          // reaches past the last full window's start.
          std::int64_t want = 0;
          for (std::int64_t start = -p; start < in; start += s)
            if (start - s + k < in + p) ++want;  // the window before it was not the last
          EXPECT_EQ(g.out[0], want);
        }
}

TEST(WindowGeometry, TransposedConvOutputShapeSetsThePads) {
  Node n = window_node("ConvTranspose", "", 2, 1, 0, 0);
  n.attributes["output_shape"].value = std::vector<std::int64_t>{10};
  WindowGeometry g;
  ASSERT_EQ(conv_transpose_window(n, {1, 1, 4}, {1, 1, 3}, g), "");
  // Full output (4 - 1) * 2 + 3 = 9: one less than asked, so no pad at all is cut.
  EXPECT_EQ(g.out[0], 10);
  EXPECT_EQ(g.pad_begin[0] + g.pad_end[0], 0);
  n.attributes["output_shape"].value = std::vector<std::int64_t>{6};
  ASSERT_EQ(conv_transpose_window(n, {1, 1, 4}, {1, 1, 3}, g), "");
  EXPECT_EQ(g.pad_begin[0] + g.pad_end[0], 3);
  EXPECT_EQ(g.pad_begin[0], 2);  // the larger half at the start unless SAME_UPPER
}

TEST(WindowGeometry, WrongAttributesAreNamed) {
  WindowGeometry g;
  Node n = window_node("Conv", "", 1, 1, 0, 0);
  n.attributes["strides"].value = std::vector<std::int64_t>{1, 1};
  EXPECT_NE(conv_window(n, {1, 1, 5}, {1, 1, 3}, g).find("strides has 2 values, expected 1"),
            std::string::npos);
  n = window_node("Conv", "SAME_MIDDLE", 1, 1, 0, 0);
  EXPECT_NE(conv_window(n, {1, 1, 5}, {1, 1, 3}, g).find("auto_pad 'SAME_MIDDLE'"),
            std::string::npos);
  n = window_node("MaxPool", "", 1, 1, 0, 0);
  EXPECT_NE(pool_window(n, {1, 1, 5}, g).find("kernel_shape"), std::string::npos);
  n.attributes["kernel_shape"].value = std::vector<std::int64_t>{3};
  n.attributes["pads"].value = std::vector<std::int64_t>{-1, 0};
  EXPECT_NE(pool_window(n, {1, 1, 5}, g).find("pads [-1,0] must not be negative"),
            std::string::npos);
  EXPECT_NE(conv_window(window_node("Conv", "", 1, 1, 0, 0), {1, 1, 5}, {1, 1, 3, 3}, g)
                .find("do not match"),
            std::string::npos);
}
