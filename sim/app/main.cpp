// The `nibble` program: a command dispatcher.
//
// Our main() replaces the one in libsystemc so that the kernel's copyright banner is switched off
// before the kernel starts; it then enters the kernel the documented way, which calls sc_main().
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include <systemc>

#include "sim/app/commands.h"
#include "sim/error.h"
#include "sim/version.h"

namespace {

const char* const kUsage =
    "nibble: a cycle-accurate simulator of 4-bit AI training accelerators\n"
    "\n"
    "usage: nibble <command> [options]\n"
    "       nibble --help | --version\n"
    "\n"
    "commands:\n"
    "  run        simulate a workload on an accelerator config and write a report\n"
    "  trace      write the trace of one training iteration of a network\n"
    "  compare    run a workload on two configs (or two recipes) and compare time and energy\n"
    "  calibrate  fit energy scale factors to measured TOPS/W and write a calibrated table\n"
    "  sweep      run a parameter sweep (grid, zip, filter; sharded, resumable) and merge it\n"
    "  train      train a small network on real data through the 4-bit numerics; loss, accuracy\n"
    "\n"
    "'nibble <command> --help' describes a command's options.\n";

}  // namespace

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}

int sc_main(int argc, char* argv[]) {
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  // The kernel's "simulation stopped by user" note is noise in our output.
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  try {
    if (argc < 2) {
      std::cerr << kUsage;
      return 2;
    }
    const std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (command == "--version") {
      std::cout << "nibble " << nibble::kNibbleVersion << " (SystemC " << sc_core::sc_release()
                << ")\n";
      return 0;
    }
    if (command == "run") return nibble::run_command(argc - 1, argv + 1);
    if (command == "trace") return nibble::trace_command(argc - 1, argv + 1);
    if (command == "compare") return nibble::compare_command(argc - 1, argv + 1);
    if (command == "calibrate") return nibble::calibrate_command(argc - 1, argv + 1);
    if (command == "sweep") return nibble::sweep_command(argc - 1, argv + 1);
    if (command == "train") return nibble::train_command(argc - 1, argv + 1);
    throw nibble::InputError("unknown command '" + command + "' (try 'nibble --help')");
  } catch (const nibble::InputError& e) {
    std::cerr << "nibble: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "nibble: internal error (please report it): " << e.what() << '\n';
    return 1;
  }
}
