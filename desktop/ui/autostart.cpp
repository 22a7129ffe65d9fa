#include "autostart.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

namespace filesync {

QString Autostart::entryPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation)
        + QStringLiteral("/autostart/filesync.desktop");
}

bool Autostart::isEnabled()
{
    return QFileInfo::exists(entryPath());
}

bool Autostart::setEnabled(bool enabled, const QString &executable)
{
    if (!enabled)
        return !QFileInfo::exists(entryPath()) || QFile::remove(entryPath());
    QDir().mkpath(QFileInfo(entryPath()).absolutePath());
    QFile file(entryPath());
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    file.write("[Desktop Entry]\nType=Application\nName=FileSync\nExec=" + QFile::encodeName(executable)
               + "\nIcon=filesync\nTerminal=false\nX-GNOME-Autostart-enabled=true\n");
    return true;
}

} // namespace filesync
