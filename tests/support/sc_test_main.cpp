// GoogleTest entry for test programs that link the SystemC kernel. As in the nibble program, our
// main() switches the kernel's banner off and enters the kernel, which calls sc_main(). Each test
// runs in its own process (gtest_discover_tests), because a kernel elaborates and simulates only
// once per process.
#include <cstdlib>

#include <gtest/gtest.h>
#include <systemc>

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}

int sc_main(int argc, char* argv[]) {
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
