// filesync: the tray app, or with --headless the same engine without any GUI.
#include "headless.h"

#ifdef FILESYNC_WITH_GUI
#include "trayapplication.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// glibc gives threads that allocate at the same time arenas of their own (up to 8 a
// core), and a free page in one arena is no use to a thread on another. The scan builds
// its snapshot (one entry a file) on a pool thread and the engine thread frees it, so the
// pool's arenas sit mostly empty at the high-water mark (figures: docs/benchmarks.md).
// Process-wide, so here, before any thread starts; an explicit MALLOC_ARENA_MAX wins.
void limitMallocArenas()
{
#if defined(__GLIBC__)
    if (!std::getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#endif
}

} // namespace

int main(int argc, char **argv)
{
    limitMallocArenas();
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--headless") == 0)
            return filesync::runHeadless(argc, argv);
        if (std::strcmp(argv[i], "--version") == 0) {
            std::printf("filesync %s\n", FILESYNC_VERSION);
            return 0;
        }
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::printf("usage: filesync                 the tray app (settings from the dialog)\n"
                        "       filesync --headless HOST PORT PATH INTERVAL [ID]\n");
            return 0;
        }
    }
#ifdef FILESYNC_WITH_GUI
    return filesync::runTrayApplication(argc, argv);
#else
    std::fprintf(stderr, "filesync: built without the tray app; use --headless HOST PORT PATH INTERVAL [ID]\n");
    return 2;
#endif
}
