// The training data readers (models/train/dataset.h): the shipped digits set value for value
// against its file, Fashion-MNIST from Debian's package when it is installed, and one test per
// kind of bad input, each on tiny IDX files written here.
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/train/dataset.h"
#include "sim/error.h"
#include "tests/support/error_of.h"

namespace nibble::train {
namespace {

namespace fs = std::filesystem;
using testing_support::error_of;

// A fresh, empty folder for one test.
fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("nibble-datasets-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void put32(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX image file: magic, count, rows, cols (big-endian), then count * rows * cols pixels, the
// i-th pixel of the file being i % 256.
std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows = 28, uint32_t cols = 28,
                                uint32_t magic = 0x00000803) {
  std::vector<uint8_t> bytes;
  put32(bytes, magic);
  put32(bytes, count);
  put32(bytes, rows);
  put32(bytes, cols);
  for (uint32_t i = 0; i < count * rows * cols; ++i) bytes.push_back(static_cast<uint8_t>(i % 256));
  return bytes;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels, uint32_t magic = 0x00000801) {
  std::vector<uint8_t> bytes;
  put32(bytes, magic);
  put32(bytes, static_cast<uint32_t>(labels.size()));
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

void write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A well-formed tiny Fashion-MNIST folder (uncompressed): 3 train images labelled 0 1 9 and 2
// test images labelled 5 6. Tests break one file of it.
fs::path tiny_fashion(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  write(dir / "train-images-idx3-ubyte", idx_images(3));
  write(dir / "train-labels-idx1-ubyte", idx_labels({0, 1, 9}));
  write(dir / "t10k-images-idx3-ubyte", idx_images(2));
  write(dir / "t10k-labels-idx1-ubyte", idx_labels({5, 6}));
  return dir;
}

TEST(Digits, SplitSizesAndShape) {
  const Dataset d = load_digits(default_digits_path());
  EXPECT_EQ(d.name, "digits");
  EXPECT_EQ(d.rows, 8u);
  EXPECT_EQ(d.cols, 8u);
  EXPECT_EQ(d.classes, 10u);
  EXPECT_EQ(d.train_size(), 1437u);  // the first 1437 rows
  EXPECT_EQ(d.test_size(), 360u);    // the last 1797 - 1437 = 360
  EXPECT_EQ(d.train_size() + d.test_size(), 1797u);
  EXPECT_EQ(d.train_images.size(), 1437u * 64u);  // 91968
  EXPECT_EQ(d.test_images.size(), 360u * 64u);    // 23040
}

TEST(Digits, ValuesAreTheFilesOverSixteen) {
  const Dataset d = load_digits(default_digits_path());
  // Row 1 of digits.csv.gz: 0,0,5,13,9,1,0,0, 0,0,13,15,10,15,5,0, ... , label 0.
  const std::array<float, 16> first = {0.0f,
                                       0.0f,
                                       0.3125f /* 5/16 */,
                                       0.8125f /* 13/16 */,
                                       0.5625f /* 9/16 */,
                                       0.0625f /* 1/16 */,
                                       0.0f,
                                       0.0f,
                                       0.0f,
                                       0.0f,
                                       0.8125f /* 13/16 */,
                                       0.9375f /* 15/16 */,
                                       0.625f /* 10/16 */,
                                       0.9375f /* 15/16 */,
                                       0.3125f /* 5/16 */,
                                       0.0f};
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(d.train_images[i], first[i]) << "pixel " << i;
  EXPECT_EQ(d.train_labels[0], 0);
  EXPECT_EQ(d.train_labels[1], 1);  // row 2 ends in 1
  EXPECT_EQ(d.train_labels[2], 2);  // row 3 ends in 2
  // Row 1438, the first test image: 0,4,16,15,2,0,0,0, ... , label 2.
  EXPECT_EQ(d.test_images[0], 0.0f);
  EXPECT_EQ(d.test_images[1], 0.25f);    // 4/16
  EXPECT_EQ(d.test_images[2], 1.0f);     // 16/16
  EXPECT_EQ(d.test_images[3], 0.9375f);  // 15/16
  EXPECT_EQ(d.test_labels[0], 2);
  // Row 1797, the last: 0,0,10,14,8,1,0,0, ... , label 8.
  EXPECT_EQ(d.test_images[359 * 64 + 2], 0.625f);  // 10/16
  EXPECT_EQ(d.test_images[359 * 64 + 3], 0.875f);  // 14/16
  EXPECT_EQ(d.test_labels[359], 8);
  for (const float p : d.train_images) ASSERT_TRUE(p >= 0.0f && p <= 1.0f) << p;
}

TEST(Digits, LabelCountsOfTheSplit) {
  const Dataset d = load_digits(default_digits_path());
  std::array<int, 10> train{}, test{};
  for (const uint8_t l : d.train_labels) ++train[l];
  for (const uint8_t l : d.test_labels) ++test[l];
  // Counted with awk over the file's column 65; train + test = the UCI test set's 178 182 177 183
  // 181 182 181 179 174 180.
  EXPECT_EQ(train, (std::array<int, 10>{143, 146, 142, 146, 144, 145, 144, 143, 141, 143}));
  EXPECT_EQ(test, (std::array<int, 10>{35, 36, 35, 37, 37, 37, 37, 36, 33, 37}));
}

TEST(Digits, DefaultPathIsTheShippedFile) {
  EXPECT_EQ(fs::path(default_digits_path()),
            fs::path(NIBBLE_SOURCE_DIR) / "workloads/datasets/digits/digits.csv.gz");
}

TEST(Digits, BadInputs) {
  const fs::path dir = fresh_dir("digits");
  EXPECT_EQ(error_of([&] { load_digits((dir / "none.csv").string()); }),
            (dir / "none.csv").string() +
                " not found; the digits set ships with Nibble in workloads/datasets/digits/ (is "
                "the checkout complete?)");

  std::string row;  // 64 pixels 0..15, then the label
  for (int i = 0; i < 64; ++i) row += std::to_string(i % 16) + ",";
  const auto write_text = [&](const std::string& text) {
    std::ofstream(dir / "d.csv") << text;
    return (dir / "d.csv").string();
  };
  const std::string path = write_text(row + "3\n");
  EXPECT_EQ(error_of([&] { load_digits(path); }),
            path + ": expected 1797 rows (the digits set), found 1");
  write_text(row + "10\n");
  EXPECT_EQ(error_of([&] { load_digits(path); }),
            path + ": line 1: label 10 is out of range (expected 0..9)");
  write_text("17" + row.substr(row.find(',')) + "3\n");  // pixel 1 is 17, not 0
  EXPECT_EQ(error_of([&] { load_digits(path); }),
            path + ": line 1, value 1: pixel 17 is out of range (expected 0..16)");
  write_text(row + "\n");
  EXPECT_EQ(error_of([&] { load_digits(path); }),
            path + ": line 1, value 65: expected an integer, found \"\"");
  write_text("1,2,3\n");
  EXPECT_EQ(error_of([&] { load_digits(path); }),
            path +
                ": line 1: expected 65 comma-separated integers (64 pixels, then the label), "
                "found 3");
}

TEST(FashionMnistReader, ReadsATinySet) {
  const Dataset d = load_fashion_mnist(tiny_fashion("good").string());
  EXPECT_EQ(d.name, "fashion-mnist");
  EXPECT_EQ(d.train_size(), 3u);
  EXPECT_EQ(d.test_size(), 2u);
  EXPECT_EQ(d.train_images.size(), 3u * 784u);
  EXPECT_EQ(d.train_labels, (std::vector<uint8_t>{0, 1, 9}));
  EXPECT_EQ(d.test_labels, (std::vector<uint8_t>{5, 6}));
  // Pixel i of the file is i % 256: pixel 255 is 255/255 = 1, pixel 784 (image 1's first) is
  // 784 % 256 = 16 -> 16/255.
  EXPECT_EQ(d.train_images[0], 0.0f);
  EXPECT_EQ(d.train_images[255], 1.0f);
  EXPECT_EQ(d.train_images[784], 16.0f / 255.0f);
}

TEST(FashionMnistReader, MissingFile) {
  const fs::path dir = tiny_fashion("missing");
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            (dir / "t10k-labels-idx1-ubyte.gz").string() +
                " not found (nor t10k-labels-idx1-ubyte); install Debian's dataset-fashion-mnist "
                "(scripts/setup does)");
}

TEST(FashionMnistReader, WrongMagic) {
  const fs::path dir = tiny_fashion("magic");
  const fs::path images = dir / "train-images-idx3-ubyte";
  write(images, idx_labels({1, 2}));  // a label file where the images belong
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            images.string() +
                ": bad magic number: expected 0x00000803 (IDX unsigned bytes, 3 dimensions: "
                "images), found 0x00000801 (a label file)");
  const fs::path labels = dir / "t10k-labels-idx1-ubyte";
  write(images, idx_images(3));
  write(labels, idx_labels({5, 6}, 0x00000802));
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            labels.string() +
                ": bad magic number: expected 0x00000801 (IDX unsigned bytes, 1 dimension: "
                "labels), found 0x00000802");
}

TEST(FashionMnistReader, Truncated) {
  const fs::path dir = tiny_fashion("truncated");
  const fs::path images = dir / "train-images-idx3-ubyte";
  std::vector<uint8_t> bytes = idx_images(3);
  bytes.pop_back();  // 16 + 3 * 784 = 2368 bytes expected, 2367 left
  write(images, bytes);
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            images.string() +
                ": truncated: expected 2368 bytes (16 header + 3 images x 28 x 28), found 2367");
  bytes.resize(10);  // not even the header
  write(images, bytes);
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            images.string() + ": truncated IDX header: expected 16 bytes, found 10");
  bytes = idx_images(3);
  bytes.push_back(0);  // one byte too many
  write(images, bytes);
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            images.string() +
                ": too long: expected 2368 bytes (16 header + 3 images x 28 x 28), found 2369");
  write(images, idx_images(3));
  const fs::path labels = dir / "train-labels-idx1-ubyte";
  bytes = idx_labels({0, 1, 9});
  bytes.pop_back();  // 8 + 3 = 11 expected, 10 left
  write(labels, bytes);
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            labels.string() + ": truncated: expected 11 bytes (8 header + 3 labels), found 10");
}

TEST(FashionMnistReader, LabelOutOfRange) {
  const fs::path dir = tiny_fashion("label");
  const fs::path labels = dir / "train-labels-idx1-ubyte";
  write(labels, idx_labels({0, 1, 10}));
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            labels.string() + ": label 10 at index 2 is out of range (expected 0..9)");
}

TEST(FashionMnistReader, CountMismatch) {
  const fs::path dir = tiny_fashion("count");
  const fs::path labels = dir / "t10k-labels-idx1-ubyte";
  write(labels, idx_labels({5, 6, 7}));
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            labels.string() + ": count mismatch: expected 2 labels (as many as images in " +
                (dir / "t10k-images-idx3-ubyte").string() + "), found 3");
}

TEST(FashionMnistReader, WrongImageSide) {
  const fs::path dir = tiny_fashion("side");
  const fs::path images = dir / "t10k-images-idx3-ubyte";
  write(images, idx_images(2, 8, 8));
  EXPECT_EQ(error_of([&] { load_fashion_mnist(dir.string()); }),
            images.string() + ": expected 28x28 images (Fashion-MNIST), found 8x8");
}

TEST(FashionMnistReader, GzipNameAndBrokenGzip) {
  // The digits file is gzip: its first 100 bytes are a gzip stream cut short.
  const fs::path dir = tiny_fashion("gzip");
  fs::remove(dir / "train-images-idx3-ubyte");
  std::ifstream in(default_digits_path(), std::ios::binary);
  std::vector<char> head(100);
  in.read(head.data(), 100);
  const fs::path gz = dir / "train-images-idx3-ubyte.gz";
  std::ofstream(gz, std::ios::binary).write(head.data(), 100);
  const std::string message = error_of([&] { load_fashion_mnist(dir.string()); });
  EXPECT_EQ(message.rfind(gz.string() + ": cannot read: truncated or corrupt gzip data (zlib: ", 0),
            0u)
      << message;
  // A plain IDX file under the .gz name reads too: zlib passes non-gzip data through.
  write(gz, idx_images(3));
  EXPECT_EQ(load_fashion_mnist(dir.string()).train_size(), 3u);
}

TEST(FashionMnist, DebianPackage) {
  const std::string dir = default_fashion_mnist_dir();
  EXPECT_EQ(dir, "/usr/share/datasets/fashion-mnist");
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz") &&
      !fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) {
    GTEST_SKIP() << dir << " has no Fashion-MNIST: install Debian's dataset-fashion-mnist "
                 << "(scripts/setup does) to run this test";
  }
  const Dataset d = load_fashion_mnist(dir);
  EXPECT_EQ(d.rows, 28u);
  EXPECT_EQ(d.cols, 28u);
  EXPECT_EQ(d.train_size(), 60000u);
  EXPECT_EQ(d.test_size(), 10000u);
  EXPECT_EQ(d.train_images.size(), 60000u * 784u);  // 47040000
  EXPECT_EQ(d.test_images.size(), 10000u * 784u);   // 7840000
  std::array<int, 10> train{}, test{};
  for (const uint8_t l : d.train_labels) ++train[l];
  for (const uint8_t l : d.test_labels) ++test[l];
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(train[c], 6000) << "class " << c;  // 60000 / 10, balanced
    EXPECT_EQ(test[c], 1000) << "class " << c;   // 10000 / 10
  }
  // The first training image is an ankle boot (9); its first non-zero pixels, read with od from
  // the decompressed file, are 1 at index 96 (row 3, column 12) and 13 at index 99.
  EXPECT_EQ(d.train_labels[0], 9);
  EXPECT_EQ(d.test_labels[0], 9);
  EXPECT_EQ(d.train_images[95], 0.0f);
  EXPECT_EQ(d.train_images[96], 1.0f / 255.0f);
  EXPECT_EQ(d.train_images[99], 13.0f / 255.0f);
}

}  // namespace
}  // namespace nibble::train
