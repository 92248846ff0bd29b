// Leaks on purpose: its test (asan builds only) passes when LeakSanitizer reports this block, so
// a preset or option that turns leak detection off fails CI instead of passing silently.
#include <cstdio>
#include <cstdlib>

namespace {

// Out of line, so no copy of the pointer stays in main's frame, which LeakSanitizer scans.
__attribute__((noinline)) void lose() {
  char* volatile block = static_cast<char*>(std::malloc(4242));
  block[0] = 1;
}

}  // namespace

int main() {
  lose();
  std::puts("lost 4242 bytes");
  return 0;
}
