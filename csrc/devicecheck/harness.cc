// Host side of the device-check tests: compiles csrc/device_check.cu (through
// device_check_cu.h, a link to it, so that the go tool rebuilds this package
// when it changes; device_check_h.h links the header for the same reason)
// against the emulator's CUDA headers, as librwkvcu_emu does.
#include "device_check_cu.h"

#include <cstring>

#include "harness.h"

namespace {
int copy_out(const std::string& s, char* buf, int len) {
  if (len > 0) {
    const size_t n = s.size() < size_t(len - 1) ? s.size() : size_t(len - 1);
    std::memcpy(buf, s.data(), n);
    buf[n] = 0;
  }
  return int(s.size());
}
}  // namespace

extern "C" int dc_archs_run_on(const char* archs, int cc) { return rwkvcu_devcheck::archs_run_on(archs, cc); }

extern "C" int dc_arch_specific_built(const char* archs, int cc) {
  return rwkvcu_devcheck::arch_specific_built(archs, cc) ? 1 : 0;
}

extern "C" int dc_no_code_message(const char* archs, int cc, const char* name, const char* detail, char* buf,
                                  int len) {
  return copy_out(rwkvcu_devcheck::no_code_message(archs, cc, name, detail), buf, len);
}

extern "C" int dc_check_device_code(int device, char* buf, int len) {
  const rwkvcu_devcheck::DeviceCheck c = rwkvcu_devcheck::check_device_code(device);
  copy_out(c.msg, buf, len);
  return c.status;
}
