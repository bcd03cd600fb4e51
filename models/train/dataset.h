// Readers of the two image data sets `nibble train` trains on (issue 17): Fashion-MNIST, from the
// IDX files of Debian's dataset-fashion-mnist, and the 8x8 digits set shipped in
// workloads/datasets/digits/ (see its README.md for origin and attribution).
//
// Plain C++, no SystemC. Every reader checks the file completely before returning (magic numbers,
// sizes, label range, counts) and throws nibble::InputError with one line that names the file and
// what was expected and found, so a trainer never runs on half a data set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nibble::train {

// A labelled image classification set, split into train and test. Images are one channel,
// row-major, as float32 in [0, 1]: pixel / 255 for Fashion-MNIST (8-bit grey), pixel / 16 for
// digits (counts 0..16 of on pixels in a 4x4 block). The division is one correctly rounded float
// division, so pixel p always maps to the same float, whatever the reader.
struct Dataset {
  std::string name;                 // "fashion-mnist" or "digits"
  uint32_t rows = 0, cols = 0;      // image side: 28x28 (Fashion-MNIST) or 8x8 (digits)
  uint32_t classes = 10;            // labels are 0 .. classes - 1
  std::vector<float> train_images;  // train_size() * rows * cols
  std::vector<float> test_images;   // test_size() * rows * cols
  std::vector<uint8_t> train_labels, test_labels;

  size_t train_size() const { return train_labels.size(); }
  size_t test_size() const { return test_labels.size(); }
  size_t image_size() const { return static_cast<size_t>(rows) * cols; }
};

// Reads Fashion-MNIST from `dir`: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each as named or with a .gz suffix
// (gzip-compressed, as Debian ships them; the plain name is tried first). IDX: a big-endian
// magic 0x00000803 (unsigned bytes, 3 dimensions: count, rows, cols) or 0x00000801 (1 dimension:
// count), then the bytes. Expects 60000 train and 10000 test images of 28x28, labels 0..9.
Dataset load_fashion_mnist(const std::string& dir);

// Reads the digits set: a CSV (gzip-compressed or plain) of 1797 rows, each 64 pixel values
// 0..16 (row-major 8x8) and then the label 0..9, as scikit-learn ships it (sklearn/datasets/data/
// digits.csv.gz). The split is fixed and unshuffled: rows 0..1436 (the first 1437) train, rows
// 1437..1796 (the last 360) test. The sizes are scikit-learn's train_test_split(test_size=0.2)
// ones (360 = ceil(0.2 * 1797)); taking them in file order rather than shuffled keeps the split
// independent of any seed, so accuracies compare across runs and implementations.
Dataset load_digits(const std::string& path);

// Where Debian's dataset-fashion-mnist installs the four files (gzip-compressed):
// /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();

// The shipped digits file, workloads/datasets/digits/digits.csv.gz. Found first under the source
// tree the library was built from (the compile definition NIBBLE_SOURCE_DIR, an absolute path
// that CMake sets to the project's source directory), which works for build/nibble run from any
// working directory; if that file is gone (the tree moved after the build), then relative to the
// executable's folder: <exe dir>/../workloads/... (build/nibble in a clone) and <exe dir>/...
// (a binary at the repository root). Neither depends on the working directory. When no candidate
// exists it returns the first, so the reader's "not found" error names the expected place.
std::string default_digits_path();

}  // namespace nibble::train
