#include "models/train/dataset.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "sim/error.h"

namespace nibble::train {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr uint32_t kFashionSide = 28;
constexpr uint32_t kClasses = 10;

constexpr uint32_t kDigitsSide = 8;
constexpr size_t kDigitsRows = 1797;
constexpr size_t kDigitsTrain = 1437;  // the last 1797 - 1437 = 360 rows are the test split
constexpr unsigned kDigitsMaxPixel = 16;

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

// The whole file, decompressed. zlib's gz* functions read gzip data and pass anything else
// through unchanged, so the content decides, not the suffix: a plain IDX file named .gz, or a
// gzip file without the suffix, reads the same as the right name would.
std::vector<uint8_t> read_bytes(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (in == nullptr) throw InputError(path + ": cannot open (is it readable?)");
  // Larger than zlib's 8 KiB default: fewer reads of the 26 MB train images.
  gzbuffer(in, 1u << 17);
  std::vector<uint8_t> bytes;
  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const size_t used = bytes.size();
    bytes.resize(used + kChunk);
    const int got = gzread(in, bytes.data() + used, kChunk);
    if (got <= 0) {
      bytes.resize(used);
      break;
    }
    bytes.resize(used + static_cast<size_t>(got));
  }
  // A gzip stream cut short ends in a short read, not a negative one, so the error state is what
  // tells a clean end from a broken one. Z_ERRNO is the system's read error (a folder, say).
  int code = Z_OK;
  std::string message = gzerror(in, &code);
  gzclose(in);
  // zlib prefixes its messages with the path it was given, which ours already names.
  if (message.compare(0, path.size() + 2, path + ": ") == 0) message.erase(0, path.size() + 2);
  if (code == Z_ERRNO) throw InputError(path + ": cannot read (" + message + ")");
  if (code != Z_OK) {
    throw InputError(path + ": cannot read: truncated or corrupt gzip data (zlib: " + message +
                     ")");
  }
  return bytes;
}

uint32_t big_endian32(const std::vector<uint8_t>& bytes, size_t at) {
  return (static_cast<uint32_t>(bytes[at]) << 24) | (static_cast<uint32_t>(bytes[at + 1]) << 16) |
         (static_cast<uint32_t>(bytes[at + 2]) << 8) | static_cast<uint32_t>(bytes[at + 3]);
}

void check_magic(const std::string& path, const std::vector<uint8_t>& bytes, uint32_t expected,
                 const char* what) {
  if (bytes.size() < 4) {
    const std::string found = std::to_string(bytes.size());
    throw InputError(
        path + ": truncated IDX header: expected at least 4 bytes (the magic number), found " +
        found);
  }
  const uint32_t magic = big_endian32(bytes, 0);
  if (magic != expected) {
    std::string hint;
    if (magic == kIdxImagesMagic) hint = " (an image file)";
    if (magic == kIdxLabelsMagic) hint = " (a label file)";
    if (bytes[0] == 0x1f && bytes[1] == 0x8b) hint = " (gzip data that zlib could not read)";
    throw InputError(path + ": bad magic number: expected " + hex32(expected) + " (IDX " + what +
                     "), found " + hex32(magic) + hint);
  }
}

// The size check covers both ways a file can be wrong: cut short, or longer than its header
// says (two files concatenated, a wrong header); either would misalign images and labels.
void check_size(const std::string& path, const std::vector<uint8_t>& bytes, uint64_t expected,
                const std::string& layout) {
  if (bytes.size() != expected) {
    throw InputError(path + ": " + (bytes.size() < expected ? "truncated" : "too long") +
                     ": expected " + std::to_string(expected) + " bytes (" + layout + "), found " +
                     std::to_string(bytes.size()));
  }
}

struct Images {
  size_t count = 0;
  std::vector<float> pixels;
};

Images read_idx_images(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  check_magic(path, bytes, kIdxImagesMagic, "unsigned bytes, 3 dimensions: images");
  constexpr size_t kHeader = 16;  // magic, count, rows, cols
  if (bytes.size() < kHeader) {
    throw InputError(path + ": truncated IDX header: expected 16 bytes, found " +
                     std::to_string(bytes.size()));
  }
  const uint32_t count = big_endian32(bytes, 4);
  const uint32_t rows = big_endian32(bytes, 8);
  const uint32_t cols = big_endian32(bytes, 12);
  if (rows != kFashionSide || cols != kFashionSide) {
    throw InputError(path + ": expected 28x28 images (Fashion-MNIST), found " +
                     std::to_string(rows) + "x" + std::to_string(cols));
  }
  const uint64_t pixels = uint64_t{count} * rows * cols;
  check_size(path, bytes, kHeader + pixels,
             "16 header + " + std::to_string(count) + " images x 28 x 28");
  Images images;
  images.count = count;
  images.pixels.resize(static_cast<size_t>(pixels));
  for (size_t i = 0; i < images.pixels.size(); ++i) {
    images.pixels[i] = static_cast<float>(bytes[kHeader + i]) / 255.0f;
  }
  return images;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  check_magic(path, bytes, kIdxLabelsMagic, "unsigned bytes, 1 dimension: labels");
  constexpr size_t kHeader = 8;  // magic, count
  if (bytes.size() < kHeader) {
    throw InputError(path + ": truncated IDX header: expected 8 bytes, found " +
                     std::to_string(bytes.size()));
  }
  const uint32_t count = big_endian32(bytes, 4);
  check_size(path, bytes, kHeader + uint64_t{count},
             "8 header + " + std::to_string(count) + " labels");
  std::vector<uint8_t> labels(bytes.begin() + kHeader, bytes.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kClasses) {
      throw InputError(path + ": label " + std::to_string(labels[i]) + " at index " +
                       std::to_string(i) + " is out of range (expected 0..9)");
    }
  }
  return labels;
}

// `dir`/`name`, or `dir`/`name`.gz as Debian ships it; the plain name wins when both exist
// (someone who unpacked the files means those).
std::string find_idx(const std::string& dir, const std::string& name) {
  const fs::path plain = fs::path(dir) / name;
  std::error_code ec;
  if (fs::exists(plain, ec)) return plain.string();
  const std::string gz = plain.string() + ".gz";
  if (fs::exists(gz, ec)) return gz;
  throw InputError(gz + " not found (nor " + name +
                   "); install Debian's dataset-fashion-mnist (scripts/setup does)");
}

void read_split(const std::string& dir, const std::string& prefix, std::vector<float>& images,
                std::vector<uint8_t>& labels) {
  const std::string images_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  Images read = read_idx_images(images_path);
  labels = read_idx_labels(labels_path);
  if (labels.size() != read.count) {
    throw InputError(labels_path + ": count mismatch: expected " + std::to_string(read.count) +
                     " labels (as many as images in " + images_path + "), found " +
                     std::to_string(labels.size()));
  }
  images = std::move(read.pixels);
}

// One value of a digits CSV line: a decimal integer, nothing else.
bool parse_uint(const std::string& text, size_t begin, size_t end, unsigned& value) {
  if (begin == end || end - begin > 3) return false;
  value = 0;
  for (size_t i = begin; i < end; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

}  // namespace

Dataset load_fashion_mnist(const std::string& dir) {
  Dataset data;
  data.name = "fashion-mnist";
  data.rows = data.cols = kFashionSide;
  data.classes = kClasses;
  read_split(dir, "train", data.train_images, data.train_labels);
  read_split(dir, "t10k", data.test_images, data.test_labels);
  return data;
}

Dataset load_digits(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw InputError(path +
                     " not found; the digits set ships with Nibble in workloads/datasets/digits/ "
                     "(is the checkout complete?)");
  }
  const std::vector<uint8_t> bytes = read_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  constexpr size_t kValues = kDigitsSide * kDigitsSide + 1;  // 64 pixels, then the label

  std::vector<float> pixels;
  std::vector<uint8_t> labels;
  pixels.reserve(kDigitsRows * (kValues - 1));
  labels.reserve(kDigitsRows);
  size_t line = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const size_t next = end + 1;
    if (end > start && text[end - 1] == '\r') --end;
    ++line;
    if (end == start && next >= text.size()) break;  // an empty last line
    const std::string where = path + ": line " + std::to_string(line);
    std::vector<unsigned> values;
    for (size_t field = start; field <= end;) {
      size_t comma = text.find(',', field);
      if (comma == std::string::npos || comma > end) comma = end;
      unsigned value = 0;
      if (!parse_uint(text, field, comma, value)) {
        throw InputError(where + ", value " + std::to_string(values.size() + 1) +
                         ": expected an integer, found \"" +
                         abbreviate(text.substr(field, comma - field)) + "\"");
      }
      values.push_back(value);
      field = comma + 1;
    }
    if (values.size() != kValues) {
      const std::string found = std::to_string(values.size());
      throw InputError(
          where + ": expected 65 comma-separated integers (64 pixels, then the label), found " +
          found);
    }
    for (size_t i = 0; i + 1 < kValues; ++i) {
      if (values[i] > kDigitsMaxPixel) {
        throw InputError(where + ", value " + std::to_string(i + 1) + ": pixel " +
                         std::to_string(values[i]) + " is out of range (expected 0..16)");
      }
      pixels.push_back(static_cast<float>(values[i]) / 16.0f);
    }
    if (values.back() >= kClasses) {
      throw InputError(where + ": label " + std::to_string(values.back()) +
                       " is out of range (expected 0..9)");
    }
    labels.push_back(static_cast<uint8_t>(values.back()));
    start = next;
  }
  if (labels.size() != kDigitsRows) {
    throw InputError(path + ": expected 1797 rows (the digits set), found " +
                     std::to_string(labels.size()));
  }

  Dataset data;
  data.name = "digits";
  data.rows = data.cols = kDigitsSide;
  data.classes = kClasses;
  const size_t split = kDigitsTrain * data.image_size();
  data.train_images.assign(pixels.begin(), pixels.begin() + static_cast<std::ptrdiff_t>(split));
  data.test_images.assign(pixels.begin() + static_cast<std::ptrdiff_t>(split), pixels.end());
  data.train_labels.assign(labels.begin(), labels.begin() + kDigitsTrain);
  data.test_labels.assign(labels.begin() + kDigitsTrain, labels.end());
  return data;
}

std::string default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

std::string default_digits_path() {
  const fs::path relative = fs::path("workloads") / "datasets" / "digits" / "digits.csv.gz";
  std::vector<fs::path> candidates;
#ifdef NIBBLE_SOURCE_DIR
  candidates.push_back(fs::path(NIBBLE_SOURCE_DIR) / relative);
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((exe.parent_path().parent_path() / relative).lexically_normal());
    candidates.push_back((exe.parent_path() / relative).lexically_normal());
  }
  for (const fs::path& candidate : candidates) {
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return candidates.empty() ? relative.string() : candidates.front().string();
}

}  // namespace nibble::train
