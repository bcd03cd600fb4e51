#include "workloads/generators/zoo.h"

#include <algorithm>
#include <utility>

#include "sim/error.h"

namespace nibble {

namespace {

// An activation tensor as the builders track it: the layer that made it and its shape per sample,
// channels × height × width (a sequence: features × rows × 1).
struct Tensor {
  std::string name;
  uint64_t c = 0, h = 1, w = 1;
  uint64_t elements() const { return c * h * w; }
};

// Appends layers to a network and tracks their output shapes.
class Builder {
 public:
  Builder(std::string name, uint64_t batch) {
    net_.name = std::move(name);
    net_.batch = batch;
  }

  Network finish() {
    check_network(net_, "built-in network \"" + net_.name + "\"");
    return std::move(net_);
  }

  Tensor conv(const std::string& name, const Tensor& x, uint64_t filters, uint64_t k,
              uint64_t stride, uint64_t padding, uint64_t groups = 1,
              std::vector<std::string> tags = {}) {
    Layer l = layer(name, LayerKind::kConv2d, {x});
    l.c = x.c;
    l.h = x.h;
    l.w = x.w;
    l.filters = filters;
    l.r = l.s = k;
    l.stride = stride;
    l.padding = padding;
    l.groups = groups;
    l.tags = std::move(tags);
    fits(name, x, k, padding);
    const Tensor out{name, filters, l.out_h(), l.out_w()};
    net_.layers.push_back(std::move(l));
    return out;
  }

  // A linear layer over the last dimension: rows = h·w of x, in_features = its channels.
  Tensor linear(const std::string& name, const Tensor& x, uint64_t out,
                const std::string& shares = "") {
    Layer l = layer(name, LayerKind::kLinear, {x});
    l.in_features = x.c;
    l.out_features = out;
    l.rows = x.h * x.w;
    l.shares_weights_with = shares;
    net_.layers.push_back(std::move(l));
    return {name, out, x.h * x.w, 1};
  }

  // `count` products A[m×k]·B[k×n]; the output is count·n features × m rows.
  Tensor matmul(const std::string& name, const Tensor& a, const Tensor& b, uint64_t count,
                uint64_t m, uint64_t n, uint64_t k) {
    Layer l = layer(name, LayerKind::kMatmul, {a, b});
    l.count = count;
    l.m = m;
    l.n = n;
    l.k = k;
    net_.layers.push_back(std::move(l));
    return {name, count * n, m, 1};
  }

  Tensor embedding(const std::string& name, uint64_t vocab, uint64_t dim, uint64_t rows,
                   const std::string& shares = "") {
    Layer l;
    l.name = name;
    l.kind = LayerKind::kEmbedding;
    l.inputs = {"input"};
    l.vocab = vocab;
    l.dim = dim;
    l.rows = rows;
    l.shares_weights_with = shares;
    net_.layers.push_back(std::move(l));
    return {name, dim, rows, 1};
  }

  // An element-wise layer over its first input's shape.
  Tensor eltwise(const std::string& name, LayerKind kind, const std::vector<Tensor>& xs) {
    Layer l = layer(name, kind, xs);
    l.elements = xs[0].elements();
    net_.layers.push_back(std::move(l));
    return {name, xs[0].c, xs[0].h, xs[0].w};
  }
  Tensor relu(const std::string& name, const Tensor& x) {
    return eltwise(name, LayerKind::kRelu, {x});
  }
  Tensor bn(const std::string& name, const Tensor& x) {
    return eltwise(name, LayerKind::kBatchnorm, {x});
  }
  Tensor layernorm(const std::string& name, const Tensor& x) {
    return eltwise(name, LayerKind::kLayernorm, {x});
  }
  Tensor add(const std::string& name, const std::vector<Tensor>& xs) {
    return eltwise(name, LayerKind::kAdd, xs);
  }
  // An element-wise layer over `elements` values of its inputs (slices of them, as the gates of
  // an LSTM cell).
  Tensor slice_eltwise(const std::string& name, LayerKind kind, const std::vector<Tensor>& xs,
                       uint64_t elements) {
    Layer l = layer(name, kind, xs);
    l.elements = elements;
    net_.layers.push_back(std::move(l));
    return {name, elements, 1, 1};
  }

  // Concatenation along channels (all inputs of one height and width).
  Tensor concat(const std::string& name, const std::vector<Tensor>& xs) {
    Layer l = layer(name, LayerKind::kConcat, xs);
    uint64_t c = 0;
    for (const Tensor& x : xs) c += x.c;
    l.elements = c * xs[0].h * xs[0].w;
    net_.layers.push_back(std::move(l));
    return {name, c, xs[0].h, xs[0].w};
  }
  // Concatenation of sequences along rows (all inputs of one width).
  Tensor concat_rows(const std::string& name, const std::vector<Tensor>& xs) {
    Layer l = layer(name, LayerKind::kConcat, xs);
    uint64_t rows = 0;
    for (const Tensor& x : xs) rows += x.h;
    l.elements = xs[0].c * rows;
    net_.layers.push_back(std::move(l));
    return {name, xs[0].c, rows, 1};
  }

  // A k×k pooling window (PyTorch's floor rounding of the output size).
  Tensor pool(const std::string& name, LayerKind kind, const Tensor& x, uint64_t k, uint64_t stride,
              uint64_t padding = 0) {
    fits(name, x, k, padding);
    const uint64_t oh = (x.h + 2 * padding - k) / stride + 1;
    const uint64_t ow = (x.w + 2 * padding - k) / stride + 1;
    return pool_to(name, kind, x, oh, ow);
  }
  // A pool to a given output size (adaptive pooling; global pooling is 1×1).
  Tensor pool_to(const std::string& name, LayerKind kind, const Tensor& x, uint64_t oh,
                 uint64_t ow) {
    Layer l = layer(name, kind, {x});
    l.elements = x.c * oh * ow;
    l.in_elements = x.elements();
    net_.layers.push_back(std::move(l));
    return {name, x.c, oh, ow};
  }

  void loss(const Tensor& x) {
    Layer l = layer("loss", LayerKind::kLoss, {x});
    l.elements = x.elements();
    net_.layers.push_back(std::move(l));
  }

 private:
  Layer layer(const std::string& name, LayerKind kind, const std::vector<Tensor>& xs) const {
    Layer l;
    l.name = name;
    l.kind = kind;
    for (const Tensor& x : xs) l.inputs.push_back(x.name);
    return l;
  }
  void fits(const std::string& name, const Tensor& x, uint64_t k, uint64_t padding) const {
    if (x.h + 2 * padding < k || x.w + 2 * padding < k) {
      throw InputError(net_.name + ": the input is too small: layer \"" + name + "\" has a " +
                       std::to_string(k) + "x" + std::to_string(k) + " window over a " +
                       std::to_string(x.h) + "x" + std::to_string(x.w) + " input (padding " +
                       std::to_string(padding) + "); use a larger --input");
    }
  }

  Network net_;
};

Tensor flatten(const Tensor& x) { return {x.name, x.c * x.h * x.w, 1, 1}; }

// A 784-256-256-10 multilayer perceptron (the shipped examples' MLP, MNIST-sized).
Network mlp(const ZooOptions& o) {
  Builder b("mlp", o.batch);
  Tensor x{"input", 784, 1, 1};
  x = b.relu("fc1.relu", b.linear("fc1", x, 256));
  x = b.relu("fc2.relu", b.linear("fc2", x, 256));
  b.loss(b.linear("fc3", x, o.classes));
  return b.finish();
}

// LeNet-5 (LeCun et al. 1998) as it is usually trained today: 5×5 convolutions of 6 and 16
// filters (C3 fully connected), ReLU, 2×2 max pooling, 120-84-classes fully connected layers.
Network lenet(const ZooOptions& o) {
  Builder b("lenet", o.batch);
  Tensor x{"input", 1, o.height, o.width};
  x = b.pool("pool1", LayerKind::kMaxpool, b.relu("relu1", b.conv("conv1", x, 6, 5, 1, 0)), 2, 2);
  x = b.pool("pool2", LayerKind::kMaxpool, b.relu("relu2", b.conv("conv2", x, 16, 5, 1, 0)), 2, 2);
  x = b.relu("relu3", b.linear("fc1", flatten(x), 120));
  x = b.relu("relu4", b.linear("fc2", x, 84));
  b.loss(b.linear("fc3", x, o.classes));
  return b.finish();
}

// torchvision's AlexNet (the single-tower variant of Krizhevsky's "one weird trick" paper);
// layer names follow torchvision's module indices. Dropout is not modelled.
Network alexnet(const ZooOptions& o) {
  Builder b("alexnet", o.batch);
  Tensor x{"input", 3, o.height, o.width};
  const auto max = LayerKind::kMaxpool;
  x = b.relu("features.1", b.conv("features.0", x, 64, 11, 4, 2));
  x = b.pool("features.2", max, x, 3, 2);
  x = b.relu("features.4", b.conv("features.3", x, 192, 5, 1, 2));
  x = b.pool("features.5", max, x, 3, 2);
  x = b.relu("features.7", b.conv("features.6", x, 384, 3, 1, 1));
  x = b.relu("features.9", b.conv("features.8", x, 256, 3, 1, 1));
  x = b.relu("features.11", b.conv("features.10", x, 256, 3, 1, 1));
  x = b.pool("features.12", max, x, 3, 2);
  // Adaptive average pooling to 6×6: the identity at 224×224, so only there when it is not.
  if (x.h != 6 || x.w != 6) x = b.pool_to("avgpool", LayerKind::kAvgpool, x, 6, 6);
  x = b.relu("classifier.2", b.linear("classifier.1", flatten(x), 4096));
  x = b.relu("classifier.5", b.linear("classifier.4", x, 4096));
  b.loss(b.linear("classifier.6", x, o.classes));
  return b.finish();
}

// VGG-16 (Simonyan & Zisserman 2015, configuration D), torchvision's definition and names.
Network vgg16(const ZooOptions& o) {
  Builder b("vgg16", o.batch);
  Tensor x{"input", 3, o.height, o.width};
  const int kPool = 0;
  const std::vector<int> cfg = {64,    64,  kPool, 128, 128,   kPool, 256, 256, 256,
                                kPool, 512, 512,   512, kPool, 512,   512, 512, kPool};
  int index = 0;
  for (int v : cfg) {
    if (v == kPool) {
      x = b.pool("features." + std::to_string(index++), LayerKind::kMaxpool, x, 2, 2);
      continue;
    }
    const std::string conv = "features." + std::to_string(index++);
    x = b.relu("features." + std::to_string(index++),
               b.conv(conv, x, static_cast<uint64_t>(v), 3, 1, 1));
  }
  if (x.h != 7 || x.w != 7) x = b.pool_to("avgpool", LayerKind::kAvgpool, x, 7, 7);
  x = b.relu("classifier.1", b.linear("classifier.0", flatten(x), 4096));
  x = b.relu("classifier.4", b.linear("classifier.3", x, 4096));
  b.loss(b.linear("classifier.6", x, o.classes));
  return b.finish();
}

// ResNet (He et al. 2016) as torchvision defines it: basic blocks for ResNet-18, bottlenecks for
// ResNet-50/101 with the stride on the 3×3 convolution ("v1.5"); projection shortcuts (1×1 conv
// + batch norm) where the shape changes.
Network resnet(const std::string& name, const std::vector<int>& blocks, bool bottleneck,
               const ZooOptions& o) {
  Builder b(name, o.batch);
  Tensor x{"input", 3, o.height, o.width};
  x = b.relu("relu", b.bn("bn1", b.conv("conv1", x, 64, 7, 2, 3)));
  x = b.pool("maxpool", LayerKind::kMaxpool, x, 3, 2, 1);
  const uint64_t expansion = bottleneck ? 4 : 1;
  for (std::size_t stage = 0; stage < blocks.size(); ++stage) {
    const uint64_t width = uint64_t{64} << stage;
    for (int i = 0; i < blocks[stage]; ++i) {
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(i) + ".";
      const uint64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      Tensor shortcut = x;
      if (stride != 1 || x.c != width * expansion) {
        shortcut = b.bn(p + "downsample.1", b.conv(p + "downsample.0", x, width * expansion, 1,
                                                   stride, 0, 1, {kTagShortcut}));
      }
      Tensor y;
      if (bottleneck) {
        y = b.relu(p + "relu1",
                   b.bn(p + "bn1", b.conv(p + "conv1", x, width, 1, 1, 0, 1, {kTagBottom1x1})));
        y = b.relu(p + "relu2", b.bn(p + "bn2", b.conv(p + "conv2", y, width, 3, stride, 1)));
        y = b.bn(p + "bn3", b.conv(p + "conv3", y, width * 4, 1, 1, 0, 1, {kTagTop1x1}));
      } else {
        y = b.relu(p + "relu1", b.bn(p + "bn1", b.conv(p + "conv1", x, width, 3, stride, 1)));
        y = b.bn(p + "bn2", b.conv(p + "conv2", y, width, 3, 1, 1));
      }
      x = b.relu(p + "relu", b.add(p + "add", {y, shortcut}));
    }
  }
  x = b.pool_to("avgpool", LayerKind::kAvgpool, x, 1, 1);
  b.loss(b.linear("fc", flatten(x), o.classes));
  return b.finish();
}

// MobileNetV2 (Sandler et al. 2018), width 1.0, torchvision's definition: inverted residual
// blocks (1×1 expansion, 3×3 depthwise, 1×1 linear projection), ReLU6 (a relu here).
Network mobilenetv2(const ZooOptions& o) {
  Builder b("mobilenetv2", o.batch);
  Tensor x{"input", 3, o.height, o.width};
  x = b.relu("features.0.relu", b.bn("features.0.bn", b.conv("features.0.conv", x, 32, 3, 2, 1)));
  struct Stage {
    uint64_t t, c, n, s;  // expansion, output channels, repeats, first stride
  };
  const std::vector<Stage> stages = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                     {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int index = 1;
  for (const Stage& st : stages) {
    for (uint64_t i = 0; i < st.n; ++i) {
      const std::string p = "features." + std::to_string(index++) + ".";
      const uint64_t stride = i == 0 ? st.s : 1;
      const uint64_t hidden = x.c * st.t;
      Tensor y = x;
      if (st.t != 1) {
        y = b.relu(p + "expand.relu",
                   b.bn(p + "expand.bn", b.conv(p + "expand.conv", y, hidden, 1, 1, 0)));
      }
      y = b.relu(p + "dw.relu",
                 b.bn(p + "dw.bn", b.conv(p + "dw.conv", y, hidden, 3, stride, 1, hidden)));
      y = b.bn(p + "project.bn", b.conv(p + "project.conv", y, st.c, 1, 1, 0));
      x = (stride == 1 && x.c == st.c) ? b.add(p + "add", {x, y}) : y;
    }
  }
  const std::string p = "features." + std::to_string(index) + ".";
  x = b.relu(p + "relu", b.bn(p + "bn", b.conv(p + "conv", x, 1280, 1, 1, 0)));
  x = b.pool_to("avgpool", LayerKind::kAvgpool, x, 1, 1);
  b.loss(b.linear("classifier.1", flatten(x), o.classes));
  return b.finish();
}

// DenseNet-121 (Huang et al. 2017), torchvision's definition: growth rate 32, bottleneck width
// 4·32, blocks of 6, 12, 24 and 16 layers, transitions halving the channels. Each dense layer
// reads the concatenation of the block's input and every earlier layer's new features.
Network densenet121(const ZooOptions& o) {
  Builder b("densenet121", o.batch);
  const uint64_t growth = 32, bottleneck = 4 * growth;
  Tensor x{"input", 3, o.height, o.width};
  x = b.relu("features.relu0", b.bn("features.norm0", b.conv("features.conv0", x, 64, 7, 2, 3)));
  x = b.pool("features.pool0", LayerKind::kMaxpool, x, 3, 2, 1);
  const std::vector<int> blocks = {6, 12, 24, 16};
  for (std::size_t bi = 0; bi < blocks.size(); ++bi) {
    const std::string block = "features.denseblock" + std::to_string(bi + 1);
    std::vector<Tensor> features = {x};
    for (int li = 1; li <= blocks[bi]; ++li) {
      const std::string p = block + ".denselayer" + std::to_string(li) + ".";
      Tensor in = features.size() == 1 ? features[0] : b.concat(p + "concat", features);
      Tensor y = b.relu(p + "relu1", b.bn(p + "norm1", in));
      y = b.relu(p + "relu2", b.bn(p + "norm2", b.conv(p + "conv1", y, bottleneck, 1, 1, 0)));
      features.push_back(b.conv(p + "conv2", y, growth, 3, 1, 1));
    }
    x = b.concat(block + ".concat", features);
    if (bi + 1 < blocks.size()) {
      const std::string t = "features.transition" + std::to_string(bi + 1) + ".";
      Tensor y = b.relu(t + "relu", b.bn(t + "norm", x));
      y = b.conv(t + "conv", y, x.c / 2, 1, 1, 0);
      x = b.pool(t + "pool", LayerKind::kAvgpool, y, 2, 2);
    }
  }
  x = b.relu("features.relu5", b.bn("features.norm5", x));
  x = b.pool_to("avgpool", LayerKind::kAvgpool, x, 1, 1);
  b.loss(b.linear("classifier", flatten(x), o.classes));
  return b.finish();
}

// Multi-head attention: Q from `xq` (lq rows), K and V from `xkv` (lk rows), `heads` heads of
// d/heads features; the scores and context products run per head (matmul count = heads).
Tensor attention(Builder& b, const std::string& p, const Tensor& xq, const Tensor& xkv, uint64_t d,
                 uint64_t heads) {
  const uint64_t lq = xq.h, lk = xkv.h, dh = d / heads;
  const Tensor q = b.linear(p + "q", xq, d);
  const Tensor k = b.linear(p + "k", xkv, d);
  const Tensor v = b.linear(p + "v", xkv, d);
  const Tensor scores = b.matmul(p + "scores", q, k, heads, lq, lk, dh);
  const Tensor probs = b.eltwise(p + "softmax", LayerKind::kSoftmax, {scores});
  const Tensor context = b.matmul(p + "context", probs, v, heads, lq, dh, lk);
  return b.linear(p + "out", context, d);
}

// A position-wise feed-forward block: d → ff → d with `act` between.
Tensor feed_forward(Builder& b, const std::string& p, const Tensor& x, uint64_t ff, LayerKind act) {
  const uint64_t d = x.c;
  Tensor y =
      b.eltwise(p + (act == LayerKind::kGelu ? "gelu" : "relu"), act, {b.linear(p + "fc1", x, ff)});
  return b.linear(p + "fc2", y, d);
}

// The Transformer "base" model (Vaswani et al. 2017): 6 encoder and 6 decoder layers, d_model 512,
// d_ff 2048, 8 heads, post-layer-norm residual blocks, one 32000-token embedding shared by the
// source and target embeddings and the output projection. Source and target are seq_len tokens.
// The positional encoding is an add of a constant; dropout and the √d scaling are not modelled.
Network transformer_base(const ZooOptions& o) {
  const uint64_t d = 512, ff = 2048, heads = 8, vocab = 32000, layers = 6, len = o.seq_len;
  Builder b("transformer-base", o.batch);
  Tensor x = b.embedding("embed.src", vocab, d, len);
  x = b.add("embed.src.position", {x});
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string p = "encoder." + std::to_string(i) + ".";
    x = b.layernorm(p + "norm1",
                    b.add(p + "add1", {x, attention(b, p + "self_attn.", x, x, d, heads)}));
    x = b.layernorm(p + "norm2",
                    b.add(p + "add2", {x, feed_forward(b, p + "ffn.", x, ff, LayerKind::kRelu)}));
  }
  const Tensor memory = x;
  Tensor y = b.embedding("embed.tgt", vocab, d, len, "embed.src");
  y = b.add("embed.tgt.position", {y});
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string p = "decoder." + std::to_string(i) + ".";
    y = b.layernorm(p + "norm1",
                    b.add(p + "add1", {y, attention(b, p + "self_attn.", y, y, d, heads)}));
    y = b.layernorm(p + "norm2",
                    b.add(p + "add2", {y, attention(b, p + "cross_attn.", y, memory, d, heads)}));
    y = b.layernorm(p + "norm3",
                    b.add(p + "add3", {y, feed_forward(b, p + "ffn.", y, ff, LayerKind::kRelu)}));
  }
  b.loss(b.linear("generator", y, vocab, "embed.src"));
  return b.finish();
}

// BERT-base (Devlin et al. 2019): 12 encoder layers, hidden 768, FFN 3072, 12 heads, GELU, word
// (30522), position (512, or seq_len if longer) and token-type (2) embeddings, and the masked-LM
// head (dense 768 + GELU + layer norm + the decoder tied to the word embedding) over the masked
// positions: 15% of the tokens, rounded up (20 of 128, as BERT's max_predictions_per_seq).
Network bert_base(const ZooOptions& o) {
  const uint64_t d = 768, ff = 3072, heads = 12, vocab = 30522, layers = 12, len = o.seq_len;
  Builder b("bert-base", o.batch);
  const Tensor word = b.embedding("embeddings.word", vocab, d, len);
  const Tensor pos = b.embedding("embeddings.position", std::max<uint64_t>(512, len), d, len);
  const Tensor type = b.embedding("embeddings.token_type", 2, d, len);
  Tensor x = b.layernorm("embeddings.norm", b.add("embeddings.add", {word, pos, type}));
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string p = "encoder." + std::to_string(i) + ".";
    x = b.layernorm(p + "norm1", b.add(p + "add1", {x, attention(b, p + "attn.", x, x, d, heads)}));
    x = b.layernorm(p + "norm2",
                    b.add(p + "add2", {x, feed_forward(b, p + "ffn.", x, ff, LayerKind::kGelu)}));
  }
  const uint64_t masked = (15 * len + 99) / 100;
  const Tensor picked{x.name, d, masked, 1};  // the masked rows of the encoder's output
  Tensor y = b.eltwise("mlm.gelu", LayerKind::kGelu, {b.linear("mlm.dense", picked, d)});
  y = b.layernorm("mlm.norm", y);
  b.loss(b.linear("mlm.decoder", y, vocab, "embeddings.word"));
  return b.finish();
}

// The "medium" LSTM language model of Zaremba et al. 2014 (Penn Treebank): 10000-word vocabulary,
// 650-wide embedding, two LSTM layers of 650 units, unrolled over seq_len steps (35), untied
// output projection. Each step of a layer: gates = W_x·x_t + W_h·h_{t-1} (two linears of 650 →
// 2600, weights shared across steps), sigmoid over the i, f, o gates (3·650), tanh over g (650),
// c_t = f⊙c_{t-1} + i⊙g, h_t = o⊙tanh(c_t). The state entering step 0 (carried over from the
// previous batch, truncated backpropagation) is the network input. Dropout is not modelled.
Network lstm(const ZooOptions& o) {
  const uint64_t hidden = 650, vocab = 10000, layers = 2, steps = o.seq_len;
  Builder b("lstm", o.batch);
  const Tensor embed = b.embedding("embed", vocab, hidden, steps);
  const Tensor state{"input", hidden, 1, 1};
  std::vector<Tensor> below(steps, Tensor{embed.name, hidden, 1, 1});  // x_t of this layer
  for (uint64_t l = 1; l <= layers; ++l) {
    const std::string lp = "l" + std::to_string(l) + ".";
    Tensor h = state, c = state;
    for (uint64_t t = 0; t < steps; ++t) {
      const std::string p = lp + "t" + std::to_string(t) + ".";
      const std::string first = lp + "t0.";
      const Tensor xw = b.linear(p + "xw", below[t], 4 * hidden, t == 0 ? "" : first + "xw");
      const Tensor hw = b.linear(p + "hw", h, 4 * hidden, t == 0 ? "" : first + "hw");
      const Tensor gates = b.add(p + "gates", {xw, hw});
      const Tensor ifo = b.slice_eltwise(p + "ifo", LayerKind::kSigmoid, {gates}, 3 * hidden);
      const Tensor g = b.slice_eltwise(p + "g", LayerKind::kTanh, {gates}, hidden);
      const Tensor fc = b.slice_eltwise(p + "fc", LayerKind::kMul, {ifo, c}, hidden);
      const Tensor ig = b.slice_eltwise(p + "ig", LayerKind::kMul, {ifo, g}, hidden);
      c = b.add(p + "c", {fc, ig});
      const Tensor tc = b.slice_eltwise(p + "tanh_c", LayerKind::kTanh, {c}, hidden);
      h = b.slice_eltwise(p + "h", LayerKind::kMul, {ifo, tc}, hidden);
      below[t] = h;
    }
  }
  const Tensor all = b.concat_rows("output.concat", below);
  b.loss(b.linear("decoder", all, vocab));
  return b.finish();
}

}  // namespace

const std::vector<ZooEntry>& zoo_entries() {
  static const std::vector<ZooEntry> entries = {
      {"mlp", ZooInput::kFixed, true, "784-256-256-10 multilayer perceptron (MNIST-sized)"},
      {"lenet", ZooInput::kImage, true, "LeNet-5, 32x32x1 input"},
      {"alexnet", ZooInput::kImage, true, "AlexNet (torchvision, single tower)"},
      {"vgg16", ZooInput::kImage, true, "VGG-16 (configuration D)"},
      {"resnet18", ZooInput::kImage, true, "ResNet-18 (basic blocks)"},
      {"resnet50", ZooInput::kImage, true, "ResNet-50 (v1.5 bottlenecks: stride on the 3x3)"},
      {"resnet101", ZooInput::kImage, true, "ResNet-101 (v1.5 bottlenecks)"},
      {"mobilenetv2", ZooInput::kImage, true, "MobileNetV2, width 1.0"},
      {"densenet121", ZooInput::kImage, true, "DenseNet-121 (growth 32)"},
      {"transformer-base", ZooInput::kSequence, false,
       "Transformer base, 6+6 layers, d_model 512, vocab 32000 (seq-len 128)"},
      {"bert-base", ZooInput::kSequence, false,
       "BERT-base, 12 layers, hidden 768, masked-LM head (seq-len 128)"},
      {"lstm", ZooInput::kSequence, false,
       "2-layer LSTM language model, 650 units, vocab 10000, unrolled (seq-len 35)"},
  };
  return entries;
}

const ZooEntry* find_zoo_entry(const std::string& name) {
  for (const ZooEntry& e : zoo_entries()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Network build_network(const std::string& name, const ZooOptions& options) {
  const ZooEntry* entry = find_zoo_entry(name);
  if (entry == nullptr) {
    std::string names;
    for (const ZooEntry& e : zoo_entries()) names += (names.empty() ? "" : ", ") + e.name;
    throw InputError("unknown network '" + name + "' (expected one of: " + names + ")");
  }
  ZooOptions o = options;
  const bool image_size = o.height != 0 || o.width != 0;
  if (image_size && entry->input != ZooInput::kImage) {
    throw InputError(name + " takes no input size (only image networks do)");
  }
  if (o.seq_len != 0 && entry->input != ZooInput::kSequence) {
    throw InputError(name +
                     " takes no sequence length (only transformer-base, bert-base and "
                     "lstm do)");
  }
  if (o.classes != 0 && !entry->has_classes) {
    throw InputError(name + " takes no number of classes (only classifiers do)");
  }
  if (image_size && (o.height == 0 || o.width == 0)) {
    throw InputError(name + ": an input size needs both a height and a width");
  }
  const bool small = name == "lenet" || name == "mlp";
  if (o.height == 0) o.height = o.width = small ? 32 : 224;
  if (o.classes == 0) o.classes = small ? 10 : 1000;
  if (o.seq_len == 0) o.seq_len = name == "lstm" ? 35 : 128;
  if (o.batch == 0) o.batch = 1;

  if (name == "mlp") return mlp(o);
  if (name == "lenet") return lenet(o);
  if (name == "alexnet") return alexnet(o);
  if (name == "vgg16") return vgg16(o);
  if (name == "resnet18") return resnet(name, {2, 2, 2, 2}, false, o);
  if (name == "resnet50") return resnet(name, {3, 4, 6, 3}, true, o);
  if (name == "resnet101") return resnet(name, {3, 4, 23, 3}, true, o);
  if (name == "mobilenetv2") return mobilenetv2(o);
  if (name == "densenet121") return densenet121(o);
  if (name == "transformer-base") return transformer_base(o);
  if (name == "bert-base") return bert_base(o);
  return lstm(o);
}

}  // namespace nibble
