#pragma once

#include <QString>

namespace filesync {

// The XDG autostart entry (~/.config/autostart/filesync.desktop): present = FileSync
// starts with the desktop session.
class Autostart
{
public:
    static QString entryPath();
    static bool isEnabled();
    static bool setEnabled(bool enabled, const QString &executable);
};

} // namespace filesync
