// filesync: the tray app, or with --headless the same engine without any GUI.
#include "headless.h"

#ifdef FILESYNC_WITH_GUI
#include "trayapplication.h"
#endif

#include <cstdio>
#include <cstring>

int main(int argc, char **argv)
{
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
