#pragma once

namespace filesync {

// `filesync` without --headless: the tray application. One instance per user (a second
// start asks the first to come forward and exits), translated to the system locale,
// settings dialog on the first start, a status window where there is no system tray.
int runTrayApplication(int argc, char **argv);

} // namespace filesync
