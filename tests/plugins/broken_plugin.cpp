// One source, three broken plugins (chosen by a define): a wrong ABI version, no entry point,
// and a symbol no library defines (dlopen with RTLD_NOW fails on it).
#include "quantscope/plugin.h"
#include "quantscope/registry.h"

namespace {
void register_nothing(qs::Registry&) {}
}  // namespace

#if defined(QS_BROKEN_UNRESOLVED_SYMBOL)
extern "C" void qs_symbol_that_no_library_defines(void);
#endif

#if !defined(QS_BROKEN_NO_ENTRY_POINT)
extern "C" __attribute__((visibility("default"))) const QsPluginDescriptor* quantscope_plugin(
    void) {
#if defined(QS_BROKEN_UNRESOLVED_SYMBOL)
  qs_symbol_that_no_library_defines();
#endif
  static const QsPluginDescriptor descriptor {
#if defined(QS_BROKEN_WRONG_ABI)
    QS_PLUGIN_ABI_VERSION + 1000,
#else
    QS_PLUGIN_ABI_VERSION,
#endif
        "broken", "0", "a deliberately broken plugin", register_nothing
  };
  return &descriptor;
}
#else
extern "C" __attribute__((visibility("default"))) int not_the_entry_point(void) {
  return 0;
}
#endif
