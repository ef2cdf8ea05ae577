// harness.h: C entry points over csrc/device_check.cu for the Go tests.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif

int dc_archs_run_on(const char* archs, int cc);
int dc_arch_specific_built(const char* archs, int cc);
// Writes the message (NUL-terminated, truncated to len) and returns its full length.
int dc_no_code_message(const char* archs, int cc, const char* name, const char* detail, char* buf, int len);
// Returns the status of check_device_code(device) and writes its message.
int dc_check_device_code(int device, char* buf, int len);

#ifdef __cplusplus
}
#endif
