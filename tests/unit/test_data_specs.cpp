// Data layer: Dataset specs and preprocessing taken from the model.
#include "data_test_util.h"

using namespace data_test;

// ---- specs -----------------------------------------------------------------------------------

TEST(DataSpec, MalformedSpecsAreErrors) {
  std::string msg = error_of([] { qs::open_dataset("imagenet:val", {}); });
  EXPECT_CONTAINS(msg, "imagenet:val");
  EXPECT_CONTAINS(msg, "unknown scheme 'imagenet'");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("just-a-path.npy", {}); }), "SCHEME:");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("npy:", {}); }), "nothing after");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("fashion-mnist:validation", {}); }), "validation");
  EXPECT_CONTAINS(error_of([] { qs::open_dataset("idx:/nonexistent/images.gz", {}); }),
                  "/nonexistent/images.gz");
}

// ---- preprocessing from the model ------------------------------------------------------------

TEST(DataPreprocess, FromModelMetadataAndShape) {
  qs::Graph g;
  qs::ValueInfo in;
  in.name = "x";
  in.dtype = qs::DType::f32;
  in.shape = {-1, 3, 32, -1};
  in.has_shape = true;
  g.inputs.push_back(in);
  qs::Preprocess p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.channels, 3);
  EXPECT_EQ(p.height, 32);
  EXPECT_EQ(p.width, 0);
  EXPECT_EQ(p.mean, (std::vector<float>{0.0f}));
  EXPECT_EQ(p.std, (std::vector<float>{1.0f}));

  g.metadata["quantscope.preprocess"] =
      R"({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "width": 48})";
  p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.mean.size(), 3u);
  EXPECT_FLOAT_EQ(p.std[2], 0.225f);
  EXPECT_EQ(p.width, 48);
  EXPECT_EQ(p.height, 32);

  g.inputs.clear();
  g.metadata["quantscope.preprocess"] =
      R"({"mean": 0.286, "std": 0.353, "channels": 1, "height": 28, "width": 28})";
  p = qs::preprocess_from_model(g);
  EXPECT_EQ(p.mean, (std::vector<float>{0.286f}));
  EXPECT_EQ(p.channels, 1);
  EXPECT_EQ(p.height, 28);
}

TEST(DataPreprocess, MalformedMetadataNamesTheKey) {
  qs::Graph g;
  auto msg_for = [&](const std::string& json) {
    g.metadata["quantscope.preprocess"] = json;
    return error_of([&] { qs::preprocess_from_model(g); });
  };
  EXPECT_CONTAINS(msg_for("{not json"), "quantscope.preprocess");
  EXPECT_CONTAINS(msg_for("[1, 2]"), "quantscope.preprocess");
  EXPECT_CONTAINS(msg_for(R"({"mean": "zero"})"), "'mean'");
  EXPECT_CONTAINS(msg_for(R"({"std": [1, "x"]})"), "'std'");
  EXPECT_CONTAINS(msg_for(R"({"std": 0})"), "'std'");
  EXPECT_CONTAINS(msg_for(R"({"height": 2.5})"), "'height'");
  EXPECT_CONTAINS(msg_for(R"({"width": -3})"), "'width'");
  EXPECT_CONTAINS(msg_for(R"({"channels": 3, "mean": [1, 2]})"), "'mean'");
}
