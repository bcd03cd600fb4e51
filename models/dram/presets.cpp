#include "models/dram/presets.h"

#include "sim/error.h"

namespace nibble {

namespace {

// Not from a standard: the controller, PHY and on-chip interconnect round trip an accelerator
// adds to every access (a few tens of ns in published controller/PHY latencies); the same
// estimate for every preset so that they differ only in the device.
constexpr double kFrontendNs = 30;

// Controller choices, not device figures: 256 B per channel before the next one (several bursts,
// so a streaming DMA burst keeps a row busy), 32-entry read and write queues per channel.
constexpr uint64_t kInterleaveBytes = 256;
constexpr uint64_t kQueueDepth = 32;

// HBM2 at 2.0 Gb/s per pin (JESD235 pseudo-channel mode), one stack.
// Organisation (JESD235A; gem5's HBM_1000_4H_1x64 and HBM_2000_4H_1x64 classes describe the
// same): 8 channels x 2 pseudo channels = 16 independent 64-bit pseudo channels, each modelled
// as a channel; BL4 on 64 bits = 32 B per burst; 16 banks per pseudo channel with 8 Gb dies;
// the page halves to 1 KiB in pseudo-channel mode. Clock 1 GHz DDR: tCK 1 ns, a burst 2 tCK.
// Peak 16 x 32 B / 2 ns = 256 GB/s.
// Timings: umd-memsys/DRAMsim3 configs/HBM2_8Gb_x128.ini (tCK 1 ns, values in tCK = ns):
// CL 14, CWL 4, tRCDRD 14, tRP 14, tRAS 34, tRRD_S 4, tFAW 30, tWR 16, tWTR_S 6, tRTP_S 4,
// tRFC 260, tREFI 3900 (gem5's 8 Gb HBM class also uses tRFC 260 ns, tREFI 3.9 us). The _S
// (different bank group) figures, since the model has no bank groups and a streaming mapping
// spreads consecutive accesses over them. tRTW: a read-to-write bus gap of 2 tCK, as in Ramulator
// 2's HBM2 model (RD to WR = nCL + nBL + 2 - nCWL).
void hbm2(DramControllerParams& p) {
  p.preset = "hbm2";
  p.channels = 16;
  p.banks = 16;
  p.row_bytes = 1024;
  p.burst_bytes = 32;
  p.interleave_bytes = kInterleaveBytes;
  p.mapping = DramMapping::kRowBankColumnChannel;
  p.queue_depth = kQueueDepth;
  p.write_queue_depth = kQueueDepth;
  p.tck_ns = 1.0;
  p.tcl_ns = 14;
  p.tcwl_ns = 4;
  p.trcd_ns = 14;
  p.trp_ns = 14;
  p.tras_ns = 34;
  p.trrd_ns = 4;
  p.tfaw_ns = 30;
  p.twr_ns = 16;
  p.twtr_ns = 6;
  p.trtw_ns = 2;
  p.trtp_ns = 4;
  p.tburst_ns = 2;
  p.trefi_ns = 3900;
  p.trfc_ns = 260;
  p.frontend_latency_ns = kFrontendNs;
  p.bandwidth_gbps = 0;
}

// HBM2E at 3.2 Gb/s per pin (JESD235C), one stack: the HBM2 organisation above on a 1.6 GHz
// clock (tCK 0.625 ns, a BL4 burst 2 tCK = 1.25 ns): 16 x 32 B / 1.25 ns = 409.6 GB/s. The DRAM
// core timings stay HBM2's in ns (the faster interface does not speed up the array; each rounds
// up to tCK again: CL 14 ns = 23 tCK), except tRFC: 16 Gb dies put 8 Gb in a channel, for which
// Ramulator 2's HBM2 tRFC table (JESD235) gives 350 ns. tRTW: the same 2 tCK bus gap (1.25 ns).
// No public JESD235C timing table was among the sources: treat the array timings as HBM2's.
void hbm2e(DramControllerParams& p) {
  hbm2(p);
  p.preset = "hbm2e";
  p.tck_ns = 0.625;
  p.tburst_ns = 1.25;
  p.trtw_ns = 1.25;
  p.trfc_ns = 350;
}

// LPDDR4-4266 (JESD209-4), an x64 part as 4 independent 16-bit channels, 8 Gb per channel.
// Organisation: 8 banks, 1024 columns x 16 bits = 2 KiB rows, BL16 on 16 bits = 32 B per burst
// in 8 tCK; tCK 0.469 ns (2133 MHz): 32 B / 3.752 ns = 8.53 GB/s a channel, 34.1 GB/s in all.
// Timings: tukl-msd/DRAMSys configs/memspec/JEDEC_1Gbx16_LPDDR4-4266.json (tCK 469 ps, in tCK):
// RL 36 (16.884 ns), WL 18 (8.442 ns), tRCD 39 (18 ns), tRPpb 39 (18 ns), tRAS 90 (42 ns),
// tRRD 22 (10 ns), tFAW 86 (40 ns), tWR 39 (18 ns), tWTR 22 (10 ns), tRTP max(8 tCK, 7.5 ns)
// = 16 tCK, tREFI 3.904 us. tRFCab 280 ns for 8 Gb per channel, from DRAMSys's
// JEDEC_8Gb_LPDDR4-3200_16bit.json (448 tCK of 0.625 ns); its 16 Gb-per-channel 4266 file has
// 380 ns. tRTW: JEDEC's RD to WR is RL + tDQSCK + BL/2 - WL + tWPRE + tRPST, a bus gap of
// tDQSCK + tWPRE + tRPST = 4 + 2 + 0 tCK (DRAMSys's figures) = 2.814 ns. All-bank refresh with
// per-bank tRPpb precharges (the model has no per-bank refresh).
void lpddr4(DramControllerParams& p) {
  p.preset = "lpddr4";
  p.channels = 4;
  p.banks = 8;
  p.row_bytes = 2048;
  p.burst_bytes = 32;
  p.interleave_bytes = kInterleaveBytes;
  p.mapping = DramMapping::kRowBankColumnChannel;
  p.queue_depth = kQueueDepth;
  p.write_queue_depth = kQueueDepth;
  p.tck_ns = 0.469;
  p.tcl_ns = 16.884;
  p.tcwl_ns = 8.442;
  p.trcd_ns = 18;
  p.trp_ns = 18;
  p.tras_ns = 42;
  p.trrd_ns = 10;
  p.tfaw_ns = 40;
  p.twr_ns = 18;
  p.twtr_ns = 10;
  p.trtw_ns = 2.814;
  p.trtp_ns = 7.5;
  p.tburst_ns = 3.752;
  p.trefi_ns = 3904;
  p.trfc_ns = 280;
  p.frontend_latency_ns = kFrontendNs;
  p.bandwidth_gbps = 0;
}

// LPDDR5-6400 (JESD209-5), an x64 part as 4 independent 16-bit channels, 8 Gb per channel, in
// 8-bank mode (BL32, no bank groups, which is what this model has).
// Figures from gem5's LPDDR5_6400_1x16_8B_BL32 class (src/mem/DRAMInterface.py, "based on initial
// JEDEC specification"): CK 800 MHz (tCK 1.25 ns) with WCK at 4:1; 4 KiB pages; a BL32 burst of
// 16 bits = 64 B occupies the bus 4 CK = 5 ns: 12.8 GB/s a channel, 51.2 GB/s in all. RL 17 CK
// (21.25 ns), tRCD 18 ns, tRP 18 ns, tRAS 42 ns, tWR 34 ns, tWTR 12 ns, tRRD 10 ns and tFAW
// 40 ns (8-bank mode), tRFCab 210 ns (8 Gb), tREFI 3.9 us, read-to-write 1 CK beyond the bus
// (tRTW 1.25 ns). WL 11 CK (13.75 ns) from Ramulator 2's LPDDR5_6400 preset (gem5 takes WL = RL).
// tRTP 7.5 ns: JEDEC's base figure (gem5 quotes it; its class subtracts 2 CK).
void lpddr5(DramControllerParams& p) {
  p.preset = "lpddr5";
  p.channels = 4;
  p.banks = 8;
  p.row_bytes = 4096;
  p.burst_bytes = 64;
  p.interleave_bytes = kInterleaveBytes;
  p.mapping = DramMapping::kRowBankColumnChannel;
  p.queue_depth = kQueueDepth;
  p.write_queue_depth = kQueueDepth;
  p.tck_ns = 1.25;
  p.tcl_ns = 21.25;
  p.tcwl_ns = 13.75;
  p.trcd_ns = 18;
  p.trp_ns = 18;
  p.tras_ns = 42;
  p.trrd_ns = 10;
  p.tfaw_ns = 40;
  p.twr_ns = 34;
  p.twtr_ns = 12;
  p.trtw_ns = 1.25;
  p.trtp_ns = 7.5;
  p.tburst_ns = 5;
  p.trefi_ns = 3906;
  p.trfc_ns = 210;
  p.frontend_latency_ns = kFrontendNs;
  p.bandwidth_gbps = 0;
}

// DDR4-3200AA (22-22-22), one 64-bit channel: a single-rank DIMM of eight x8 8 Gb devices.
// Figures from the Micron 8Gb DDR4 SDRAM datasheet (MT40A1G8) as encoded in umd-memsys/DRAMsim3
// configs/DDR4_8Gb_x8_3200.ini (tCK 0.625 ns, values in tCK): CL 22 (13.75 ns), CWL 16
// (10 ns), tRCD 22 and tRP 22 (13.75 ns), tRAS 52 (32 ns), tRRD_S 4 (2.5 ns), tFAW 34 (21 ns,
// 1 KiB page), tWR 24 (15 ns), tWTR_S 4 (2.5 ns), tRTP 12 (7.5 ns), tRFC 560 (350 ns, 8 Gb),
// tREFI 12480 (7.8 us). 16 banks (4 bank groups of 4; the model has no bank groups, so _S figures
// and no tCCD_L, as with a mapping that alternates bank groups), 1 KiB page x 8 devices = 8 KiB
// rows, BL8 x 64 bits = 64 B in 4 tCK = 2.5 ns: 25.6 GB/s. tRTW: a 2 tCK read-to-write bus gap
// (RD to WR = CL + BL/2 + 2 - CWL, as Ramulator 2's DDR4 model has).
void ddr4(DramControllerParams& p) {
  p.preset = "ddr4";
  p.channels = 1;
  p.banks = 16;
  p.row_bytes = 8192;
  p.burst_bytes = 64;
  p.interleave_bytes = kInterleaveBytes;
  p.mapping = DramMapping::kRowBankColumnChannel;
  p.queue_depth = kQueueDepth;
  p.write_queue_depth = kQueueDepth;
  p.tck_ns = 0.625;
  p.tcl_ns = 13.75;
  p.tcwl_ns = 10;
  p.trcd_ns = 13.75;
  p.trp_ns = 13.75;
  p.tras_ns = 32;
  p.trrd_ns = 2.5;
  p.tfaw_ns = 21;
  p.twr_ns = 15;
  p.twtr_ns = 2.5;
  p.trtw_ns = 1.25;
  p.trtp_ns = 7.5;
  p.tburst_ns = 2.5;
  p.trefi_ns = 7800;
  p.trfc_ns = 350;
  p.frontend_latency_ns = kFrontendNs;
  p.bandwidth_gbps = 0;
}

}  // namespace

DramControllerParams::DramControllerParams() { hbm2(*this); }

const std::vector<std::string>& dram_preset_names() {
  static const std::vector<std::string> names = {"hbm2", "hbm2e", "lpddr4", "lpddr5", "ddr4"};
  return names;
}

DramControllerParams dram_preset(const std::string& name) {
  DramControllerParams p;
  if (name == "hbm2") {
    hbm2(p);
  } else if (name == "hbm2e") {
    hbm2e(p);
  } else if (name == "lpddr4") {
    lpddr4(p);
  } else if (name == "lpddr5") {
    lpddr5(p);
  } else if (name == "ddr4") {
    ddr4(p);
  } else {
    std::string list;
    for (const std::string& n : dram_preset_names()) list += " \"" + n + "\"";
    throw InputError("dram preset: expected one of" + list + ", found \"" + name + "\"");
  }
  return p;
}

}  // namespace nibble
