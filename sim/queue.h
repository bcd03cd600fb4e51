// A bounded FIFO between SystemC threads for values of any type (sc_fifo needs printable
// payloads). put() blocks while full, get() while empty; both must be called from SC_THREADs.
// Idle waiters sleep on one event and cost no activations.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>

#include <systemc>

namespace nibble {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  void put(T value) {
    while (items_.size() >= capacity_) sc_core::wait(changed_);
    items_.push_back(std::move(value));
    changed_.notify(sc_core::SC_ZERO_TIME);
  }
  T get() {
    while (items_.empty()) sc_core::wait(changed_);
    T value = std::move(items_.front());
    items_.pop_front();
    changed_.notify(sc_core::SC_ZERO_TIME);
    return value;
  }
  void set_capacity(std::size_t capacity) { capacity_ = capacity; }
  std::size_t size() const { return items_.size(); }
  void clear() { items_.clear(); }

 private:
  std::size_t capacity_;
  std::deque<T> items_;
  sc_core::sc_event changed_;
};

}  // namespace nibble
